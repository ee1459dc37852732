"""Writing spool files: event batches become NDJSON, CSV or Parquet files, dropped atomically.

A batch is `{kind: pyarrow.Table}` whose columns are the kind's fields (store.spool_format). Every file
this module writes holds many kinds, one `kind` per row, in an order where every id is created before
it is referred to (entities first, then events, then updates). It is written as a dotted `.tmp` file in
the spool directory and renamed into place, so the ingester never sees half a file.

`rows_to_events` turns raw-table rows (what `sample_data.live.EventStream` produces) into events.
"""

from __future__ import annotations

import heapq
import io
import itertools
import os
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

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
            df = pl.DataFrame(pl.from_arrow(t))
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

# Schedule entities an event may refer to though they were created before the producer started (an
# article read today, a post, a live on air): kind -> (table, key, the events' referring columns).
_SCHEDULED = {
    "oa_article": ("oa_articles", "article_id", (("oa_read", "article_id"),)),
    "channel_post": ("channel_posts", "post_id", (("channel_view", "post_id"),)),
    "live_session": (
        "live_sessions",
        "live_id",
        (("channel_view", "live_id"), ("transaction", "live_id")),
    ),
}


class Producer:
    """Turns `EventStream` windows into spool files of events, outcomes arriving when they happen.

    The stream emits each row with its future already decided (a payment that will be refunded is
    'refunded' with a later refunded_at, a Pay Score order is 'done' with later completed_at and
    paid_at, a live session carries its planned end). A producer of real events cannot know the
    future, so the payment goes out as 'success' and a `refund` follows at refunded_at; the order
    goes out 'doing' and `payscore_complete` / `payscore_collect` (or `payscore_cancel`) follow;
    the live session goes out open and `live_end` follows. Outcomes still in the future when the
    producer stops are never written (as with a real source that stops).

    Every file is accepted by the ingester whatever the database's age: an article, post or live
    session an event refers to that this producer has not written is written first, marked
    `if_new` (inserted unless the database has it); a membership's tx_id that this producer did
    not write (a payment before it started) is left empty. `tick(..., limit=n)` writes at most n
    events, the earliest first, so `--events N` writes exactly N.
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
        self.pending: list[tuple[int, int, str, dict[str, Any]]] = []  # (due_us, seq, kind, row)
        self._n = itertools.count()
        self.files = 0
        self.by_kind: dict[str, int] = {}
        self._written: dict[str, set[int]] = {k: set() for k in _SCHEDULED}
        self._recent_tx: pa.Array = pa.array([], pa.int64())  # tx ids of the previous file

    @property
    def events(self) -> int:
        return sum(self.by_kind.values())

    def _later(self, due: Any, kind: str, row: dict[str, Any]) -> None:
        heapq.heappush(self.pending, (_us(due), next(self._n), kind, row))

    # -- one window --------------------------------------------------------------------------

    def _due(self, end: Any) -> list[tuple[int, int, str, dict[str, Any]]]:
        """Pop the queued outcomes that happen before `end`, earliest first."""
        limit = _us(end)
        out = []
        while self.pending and self.pending[0][0] < limit:
            out.append(heapq.heappop(self.pending))
        return out

    def _missing_refs(self, events: Mapping[str, pa.Table]) -> dict[str, pa.Array]:
        """Per scheduled kind, the ids `events` refer to that neither they nor earlier files hold."""
        out = {}
        for kind, (_table, key, refs) in _SCHEDULED.items():
            cols = [events[k].column(c) for k, c in refs if k in events and events[k].num_rows]
            if not cols:
                continue
            ids = pc.unique(pa.chunked_array(cols).combine_chunks().drop_null())
            own = events.get(kind)
            known = pa.array(sorted(self._written[kind]), pa.int64())
            if own is not None and own.num_rows:
                known = pa.concat_arrays([known, own.column(key).combine_chunks()])
            ids = ids.filter(pc.invert(pc.is_in(ids, value_set=known)))
            if len(ids):
                out[kind] = ids
        return out

    @staticmethod
    def _first(events: Mapping[str, pa.Table], n: int) -> dict[str, pa.Table]:
        """The n earliest events (ties in file order)."""
        if n <= 0:
            return {k: t.slice(0, 0) for k, t in events.items()}
        times = []
        for k, t in events.items():
            col = t.column(KINDS[k].fields[_time_index(k)].name)
            times.append(pc.cast(col, pa.int64()).combine_chunks())
        allts = pa.concat_arrays(times) if times else pa.array([], pa.int64())
        if len(allts) <= n:
            return dict(events)
        keep = pc.take(allts, pc.sort_indices(allts).slice(n - 1, 1))[0].as_py()
        # rows strictly before the n-th time, then rows at that time in file order
        out: dict[str, pa.Table] = {}
        room = n - pc.sum(pc.less(allts, keep)).as_py()
        for k in ORDER:
            if k not in events:
                continue
            t = events[k]
            us = pc.cast(t.column(KINDS[k].fields[_time_index(k)].name), pa.int64())
            at = pc.equal(us, keep)
            tie = pc.indices_nonzero(at)
            take_tie = min(room, len(tie))
            room -= take_tie
            nth = pc.cumulative_sum(pc.cast(at, pa.int64()).combine_chunks())
            tied = pc.and_(at.combine_chunks(), pc.less_equal(nth, take_tie))
            out[k] = t.filter(pc.or_(pc.less(us, keep).combine_chunks(), tied))
        return out

    def tick(self, start: Any, end: Any, limit: int | None = None) -> Path | None:
        """Write the events of [start, end), and the outcomes due by `end`, as one file (at most
        `limit` events, the earliest); None if there are none."""
        events = rows_to_events(self.stream.events(start, end))  # type: ignore[attr-defined]
        due = self._due(end)
        events.update(_outcome_tables(due))
        events = {k: t for k, t in events.items() if t.num_rows}
        head: dict[str, pa.Array] = {}
        if limit is not None:
            events, head = self._fit(events, limit)
            # outcomes not written go back to the queue
            written = {
                (k, _outcome_key(k, r))
                for k in _OUTCOMES
                if k in events
                for r in events[k].to_pylist()
            }
            for item in due:
                if (item[2], _outcome_key(item[2], item[3])) not in written:
                    heapq.heappush(self.pending, item)
        missing = self._missing_refs(events) if limit is None else head
        return self._write(events, missing)

    def _fit(
        self, events: dict[str, pa.Table], budget: int
    ) -> tuple[dict[str, pa.Table], dict[str, pa.Array]]:
        """The earliest events that fit in `budget` together with the entities they need
        re-announced, and those entities (topped up with the next event's, so the file holds
        exactly `budget` rows when there are more events than room)."""
        total = sum(t.num_rows for t in events.values())

        def cost(n: int) -> int:
            return n + sum(len(v) for v in self._missing_refs(self._first(events, n)).values())

        if cost(total) <= budget:
            return events, self._missing_refs(events)
        lo, hi = 0, min(total, budget)  # cost(lo) <= budget < cost(hi + ...)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if cost(mid) <= budget:
                lo = mid
            else:
                hi = mid - 1
        chosen = self._first(events, lo)
        need = self._missing_refs(chosen)
        room = budget - cost(lo)
        if room > 0:  # part of what the next event needs
            nxt = self._missing_refs(self._first(events, lo + 1))
            extra = {
                k: v.filter(pc.invert(pc.is_in(v, value_set=need[k]))) if k in need else v
                for k, v in nxt.items()
            }
            for k, v in _trim(extra, room).items():
                need[k] = v if k not in need else pa.concat_arrays([need[k], v])
        return {k: t for k, t in chosen.items() if t.num_rows}, need

    def _write(self, events: dict[str, pa.Table], missing: dict[str, pa.Array]) -> Path | None:
        """Write `events` after the re-announced entities `missing` (as one file)."""
        for kind, ids in missing.items():
            table = _SCHEDULED[kind][0]
            rows = self.stream.entities(table, ids.to_pylist())  # type: ignore[attr-defined]
            cat = conform(kind, rows)
            cat = cat.set_column(
                cat.schema.get_field_index("if_new"), "if_new", pa.array([True] * cat.num_rows)
            )
            own = events.get(kind)
            events[kind] = cat if own is None else pa.concat_tables([cat, own])
        events = self._present(events)
        events = {k: t for k, t in events.items() if t.num_rows}
        if not events:
            return None
        path = write_file(self.dir, events, self.fmt)
        self.files += 1
        for k, t in events.items():
            self.by_kind[k] = self.by_kind.get(k, 0) + t.num_rows
        for kind, (_table, key, _refs) in _SCHEDULED.items():
            if kind in events:
                self._written[kind].update(events[kind].column(key).to_pylist())
        tx = events.get("transaction")
        self._recent_tx = (
            tx.column("tx_id").combine_chunks() if tx is not None else pa.array([], pa.int64())
        )
        return path

    def _present(self, events: dict[str, pa.Table]) -> dict[str, pa.Table]:
        """Rows as a producer knows them when they happen: outcomes queued, not yet written."""
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
            tx = tx.set_column(j, "refunded_at", pa.nulls(tx.num_rows, tx.schema.field(j).type))
            events["transaction"] = tx
        ms = events.get("membership")
        if ms is not None and ms.num_rows:
            known = pa.concat_arrays(
                [self._recent_tx]
                + ([tx.column("tx_id").combine_chunks()] if tx is not None else [])
            )
            col = ms.column("tx_id")
            ok = pc.is_in(col, value_set=known)
            i = ms.schema.get_field_index("tx_id")
            events["membership"] = ms.set_column(
                i, "tx_id", pc.if_else(ok, col, pa.nulls(ms.num_rows, pa.int64()))
            )
        ps = events.get("payscore_order")
        if ps is not None and ps.num_rows:
            cols = ["order_id", "ts", "state", "amount", "completed_at", "paid_at"]
            final_states = ("done", *self.CANCEL_AFTER)
            mask = pc.is_in(ps.column("state"), value_set=pa.array(final_states))
            for r in ps.filter(mask).select(cols).to_pylist():
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
                    ts = _from_us(_us(r["ts"]) + self.CANCEL_AFTER[r["state"]])
                    self._later(
                        ts,
                        "payscore_cancel",
                        {"order_id": r["order_id"], "ts": ts, "state": r["state"]},
                    )
            n = ps.num_rows
            amount_t = ps.schema.field("amount").type
            ps = ps.set_column(
                ps.schema.get_field_index("state"),
                "state",
                pc.if_else(mask, "doing", ps.column("state")),
            )
            ps = ps.set_column(
                ps.schema.get_field_index("amount"),
                "amount",
                pc.if_else(mask, pa.scalar(0, amount_t), ps.column("amount")),
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


_OUTCOMES = ("refund", "payscore_complete", "payscore_collect", "payscore_cancel", "live_end")


def _outcome_key(kind: str, row: Mapping[str, Any]) -> tuple[Any, ...]:
    return (row.get("tx_id"), row.get("order_id"), row.get("live_id"), _us(row["ts"]))


def _outcome_tables(due: list[tuple[int, int, str, dict[str, Any]]]) -> dict[str, pa.Table]:
    rows: dict[str, list[dict[str, Any]]] = {}
    for _, _, kind, row in due:
        rows.setdefault(kind, []).append(row)
    out = {}
    for kind, lst in rows.items():
        sch = kind_schema(kind)
        out[kind] = pa.Table.from_pydict(
            {f.name: [r.get(f.name) for r in lst] for f in sch}, schema=sch
        )
    return out


def _trim(missing: dict[str, pa.Array], room: int) -> dict[str, pa.Array]:
    out = {}
    for k, ids in missing.items():
        if room <= 0:
            break
        out[k] = ids.slice(0, room)
        room -= len(out[k])
    return out


def _time_index(kind: str) -> int:
    """Index of the kind's time field (its event time)."""
    for i, f in enumerate(KINDS[kind].fields):
        if f.type == "TIMESTAMPTZ":
            return i
    raise KeyError(kind)


def _us(t: Any) -> int:
    assert isinstance(t, datetime)
    return round(t.timestamp() * 1_000_000)


def _from_us(us: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)
