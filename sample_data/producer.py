"""Writing spool files: event batches become NDJSON, CSV or Parquet files, dropped atomically.

A batch is `{kind: pyarrow.Table}` whose columns are the kind's fields (store.spool_format). Every file
this module writes holds many kinds, one `kind` per row, in an order where every id is created before
it is referred to (entities first, then events, then updates). It is written as a dotted `.tmp` file in
the spool directory and renamed into place, so the ingester never sees half a file.

`rows_to_events` turns raw-table rows (what `sample_data.live.EventStream` produces) into events.
"""

from __future__ import annotations

import io
import itertools
import os
import time
from collections.abc import Mapping
from pathlib import Path

import pyarrow as pa

from ecotop.store.spool_format import ALIASES, ALL_FIELDS, FIELD_TYPES, INSERT_ORDER, KINDS

FORMATS = ("ndjson", "parquet", "csv")
EXT = {"ndjson": ".ndjson", "parquet": ".parquet", "csv": ".csv"}

# Kinds in the order a file lists them: ids are created before they are referred to.
ORDER = (
    *INSERT_ORDER,
    "refund",
    "payscore_complete",
    "payscore_collect",
    "payscore_cancel",
    "live_end",
)
assert sorted(ORDER) == sorted(KINDS)

_ARROW = {
    "TIMESTAMPTZ": pa.timestamp("us", tz="UTC"),
    "BIGINT": pa.int64(),
    "INTEGER": pa.int32(),
    "DECIMAL(18,2)": pa.decimal128(18, 2),
    "DOUBLE": pa.float64(),
    "BOOLEAN": pa.bool_(),
    "VARCHAR": pa.string(),
}


def arrow_type(field_name: str) -> pa.DataType:
    """The Arrow type a field is written with."""
    return _ARROW[FIELD_TYPES[field_name]]


def kind_schema(kind: str) -> pa.Schema:
    """The Arrow schema of one kind's events (its fields, in order)."""
    return pa.schema([(f.name, _ARROW[f.type]) for f in KINDS[kind].fields])


def conform(kind: str, table: pa.Table) -> pa.Table:
    """`table` with exactly the kind's fields, in order and type (missing optional fields are null)."""
    cols = []
    for f in KINDS[kind].fields:
        t = _ARROW[f.type]
        if f.name in table.column_names:
            c = table.column(f.name)
            cols.append(c if c.type == t else c.cast(t))
        elif f.col in table.column_names:
            c = table.column(f.col)
            cols.append(c if c.type == t else c.cast(t))
        else:
            cols.append(pa.nulls(table.num_rows, t))
    return pa.Table.from_arrays(cols, schema=kind_schema(kind))


def rows_to_events(batch: Mapping[str, pa.Table]) -> dict[str, pa.Table]:
    """Raw-table rows ({table: rows}, as EventStream gives them) as insert events {kind: table}."""
    out: dict[str, pa.Table] = {}
    for table, rows in batch.items():
        kind = ALIASES.get(table)
        if kind is None or rows is None or rows.num_rows == 0:
            continue
        out[kind] = conform(kind, rows)
    return out


def count(events: Mapping[str, pa.Table]) -> int:
    return sum(t.num_rows for t in events.values())


def wide(events: Mapping[str, pa.Table]) -> pa.Table:
    """One table of every event: `kind` plus the union of the kinds' fields (null where unused)."""
    present = [k for k in ORDER if k in events and events[k].num_rows]
    names = [n for n in ALL_FIELDS if any(n in KINDS[k].field_names for k in present)]
    parts = []
    for k in present:
        t = events[k]
        n = t.num_rows
        arrays = [pa.array([k] * n, pa.string())]
        for name in names:
            arrays.append(
                t.column(name) if name in t.column_names else pa.nulls(n, arrow_type(name))
            )
        parts.append(pa.Table.from_arrays(arrays, names=["kind", *names]))
    if not parts:
        return pa.table({"kind": pa.array([], pa.string())})
    return pa.concat_tables(parts)


def encode(events: Mapping[str, pa.Table], fmt: str) -> bytes:
    """The bytes of a spool file holding `events` in format `fmt`."""
    if fmt == "parquet":
        import pyarrow.parquet as pq

        buf = io.BytesIO()
        pq.write_table(wide(events), buf, compression="zstd")
        return buf.getvalue()
    if fmt == "csv":
        import pyarrow.csv as pacsv

        buf = io.BytesIO()
        pacsv.write_csv(wide(events), buf)
        return buf.getvalue()
    if fmt == "ndjson":
        import polars as pl

        out = io.BytesIO()
        for k in ORDER:
            t = events.get(k)
            if t is None or not t.num_rows:
                continue
            df = pl.from_arrow(t)
            # Only the fields that have a value somewhere in this kind's rows: no walls of nulls.
            keep = [c for c in df.columns if df[c].null_count() < df.height]
            df = df.select(keep).with_columns(pl.lit(k).alias("kind")).select(["kind", *keep])
            df.write_ndjson(out)
        return out.getvalue()
    raise ValueError(f"unknown format {fmt!r}")


_seq = itertools.count()


def write_file(
    directory: str | os.PathLike[str],
    events: Mapping[str, pa.Table],
    fmt: str = "ndjson",
    *,
    prefix: str = "events",
    name: str | None = None,
) -> Path:
    """Write `events` as one spool file in `directory`: a dotted .tmp file, then a rename."""
    d = Path(directory)
    if name is None:
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        name = f"{prefix}-{stamp}-{os.getpid()}-{next(_seq):06d}{EXT[fmt]}"
    data = encode(events, fmt)
    tmp = d / f".{name}.tmp"
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    final = d / name
    os.replace(tmp, final)
    return final


# -- a live producer: EventStream rows as a realistic sequence of events -------------------------


class Producer:
    """Turns `EventStream` windows into spool files of events, outcomes arriving when they happen.

    The stream emits each row with its future already decided (a payment that will be refunded is
    'refunded' with a later refunded_at, a Pay Score order is 'done' with later completed_at and
    paid_at, a live session carries its planned end). A producer of real events cannot know the
    future, so the payment goes out as 'success' and a `refund` follows at refunded_at; the order
    goes out 'doing' and `payscore_complete` / `payscore_collect` (or `payscore_cancel`) follow;
    the live session goes out open and `live_end` follows. Outcomes still in the future when the
    producer stops are never written (as with a real source that stops).
    """

    # When an order that ends revoked or expired is cancelled, after its creation.
    CANCEL_AFTER = {"revoked": 600_000_000, "expired": 7_200_000_000}  # microseconds

    def __init__(
        self, stream: object, directory: str | os.PathLike[str], fmt: str = "ndjson"
    ) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r}")
        self.stream = stream
        self.dir = Path(directory)
        self.fmt = fmt
        self.pending: list[tuple[int, int, str, dict]] = []  # heap of (due_us, seq, kind, row)
        self._n = itertools.count()
        self.files = 0
        self.by_kind: dict[str, int] = {}

    @property
    def events(self) -> int:
        return sum(self.by_kind.values())

    def _later(self, due: object, kind: str, row: dict) -> None:
        import heapq

        heapq.heappush(self.pending, (_us(due), next(self._n), kind, row))

    def split(self, batch: Mapping[str, pa.Table]) -> dict[str, pa.Table]:
        """Insert events of a stream window, with the outcomes queued for later."""
        import pyarrow.compute as pc

        events = rows_to_events(batch)
        tx = events.get("transaction")
        if tx is not None and tx.num_rows:
            refunded = pc.equal(tx.column("status"), "refunded")
            for r in tx.filter(refunded).select(["tx_id", "refunded_at"]).to_pylist():
                self._later(
                    r["refunded_at"], "refund", {"tx_id": r["tx_id"], "ts": r["refunded_at"]}
                )
            i = tx.schema.get_field_index("status")
            tx = tx.set_column(i, "status", pc.if_else(refunded, "success", tx.column("status")))
            j = tx.schema.get_field_index("refunded_at")
            events["transaction"] = tx.set_column(
                j, "refunded_at", pa.nulls(tx.num_rows, tx.schema.field(j).type)
            )
        ps = events.get("payscore_order")
        if ps is not None and ps.num_rows:
            cols = ["order_id", "ts", "state", "amount", "completed_at", "paid_at"]
            for r in ps.select(cols).to_pylist():
                if r["state"] == "done" and r["completed_at"] is not None:
                    self._later(
                        r["completed_at"],
                        "payscore_complete",
                        {"order_id": r["order_id"], "ts": r["completed_at"], "amount": r["amount"]},
                    )
                    if r["paid_at"] is not None:
                        self._later(
                            r["paid_at"],
                            "payscore_collect",
                            {"order_id": r["order_id"], "ts": r["paid_at"]},
                        )
                elif r["state"] in self.CANCEL_AFTER:
                    due = _us(r["ts"]) + self.CANCEL_AFTER[r["state"]]
                    ts = _from_us(due)
                    self._later(
                        ts,
                        "payscore_cancel",
                        {"order_id": r["order_id"], "ts": ts, "state": r["state"]},
                    )
            final = pc.is_in(ps.column("state"), value_set=pa.array(["done", "revoked", "expired"]))
            n = ps.num_rows
            ps = ps.set_column(
                ps.schema.get_field_index("state"),
                "state",
                pc.if_else(final, "doing", ps.column("state")),
            )
            ps = ps.set_column(
                ps.schema.get_field_index("amount"),
                "amount",
                pc.if_else(
                    final, pa.scalar(0, ps.schema.field("amount").type), ps.column("amount")
                ),
            )
            for c in ("completed_at", "paid_at"):
                i = ps.schema.get_field_index(c)
                ps = ps.set_column(i, c, pa.nulls(n, ps.schema.field(c).type))
            events["payscore_order"] = ps
        lv = events.get("live_session")
        if lv is not None and lv.num_rows:
            for r in lv.select(["live_id", "ended_at", "peak_viewers"]).to_pylist():
                if r["ended_at"] is not None:
                    self._later(
                        r["ended_at"],
                        "live_end",
                        {
                            "live_id": r["live_id"],
                            "ts": r["ended_at"],
                            "peak_viewers": r["peak_viewers"],
                        },
                    )
            n = lv.num_rows
            lv = lv.set_column(
                lv.schema.get_field_index("ended_at"),
                "ended_at",
                pa.nulls(n, lv.schema.field("ended_at").type),
            )
            lv = lv.set_column(
                lv.schema.get_field_index("peak_viewers"),
                "peak_viewers",
                pa.array([0] * n, pa.int32()),
            )
            events["live_session"] = lv
        return events

    def due(self, end: object) -> dict[str, pa.Table]:
        """The queued outcomes that happen before `end`."""
        import heapq

        limit = _us(end)
        rows: dict[str, list[dict]] = {}
        while self.pending and self.pending[0][0] < limit:
            _, _, kind, row = heapq.heappop(self.pending)
            rows.setdefault(kind, []).append(row)
        out = {}
        for kind, lst in rows.items():
            sch = kind_schema(kind)
            out[kind] = pa.Table.from_pydict(
                {f.name: [r.get(f.name) for r in lst] for f in sch}, schema=sch
            )
        return out

    def tick(self, start: object, end: object) -> Path | None:
        """Write the events of [start, end) (and outcomes due by `end`) as one file; None if none."""
        events = self.split(self.stream.events(start, end))  # type: ignore[attr-defined]
        events.update(self.due(end))
        events = {k: t for k, t in events.items() if t.num_rows}
        if not events:
            return None
        path = write_file(self.dir, events, self.fmt)
        self.files += 1
        for k, t in events.items():
            self.by_kind[k] = self.by_kind.get(k, 0) + t.num_rows
        return path


def _us(t: object) -> int:
    from datetime import datetime

    assert isinstance(t, datetime)
    return round(t.timestamp() * 1_000_000)


def _from_us(us: int) -> object:
    from datetime import UTC, datetime, timedelta

    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)
