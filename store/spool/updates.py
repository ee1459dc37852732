"""Update events (refunds, Pay Score completions and collections, live ends): applied in line order
against each row's current state, and the rollup deltas they cause (old version out, new in).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from ecotop.store import rollups
from ecotop.store.spool.check import _ARROW_TYPES, _masked, _rows_problems
from ecotop.store.spool.results import INDEX_LOOKUP_MAX, Rejected, _int_list, _q

if TYPE_CHECKING:
    from ecotop.store.spool.load import Loader


def apply_updates(loader: Loader, table: str, kinds: list[str]) -> None:
    """Apply the update events of `table` in line order, each checked against the row's state.

    The touched rows are read once (_old, through the primary-key index when few), updated in
    Arrow round by round (round r applies each key's r-th update, checked against the state
    the previous round left), written back with one UPDATE, and their rollup deltas are
    computed from old and new versions of those rows only.
    """
    cur = loader.cur
    spec = _UPDATES[table]
    key = spec["key"]
    qkey = _q(key)
    parts = []
    for k in kinds:
        t = loader.typed[k]
        n = t.num_rows
        arrays = [t.column("line"), pa.array([k] * n, pa.string())]
        for c, typ in spec["fields"].items():
            arrays.append(t.column(c) if c in t.column_names else pa.nulls(n, _ARROW_TYPES[typ]))
        parts.append(pa.Table.from_arrays(arrays, names=["line", "kind", *spec["fields"]]))
    u = pa.concat_tables(parts).combine_chunks()
    keys = pc.unique(u.column(key))
    if len(keys) == u.num_rows:
        u = u.append_column("rnk", pa.array([1] * u.num_rows, pa.int64()))
    else:
        loader._register("_ua", u)
        u = cur.sql(
            f"SELECT *, row_number() OVER (PARTITION BY {qkey} ORDER BY line) AS rnk FROM _ua"
        ).to_arrow_table()
    loader._register("_u", u)
    # Few keys: an IN list of constants goes through the primary-key index, not a table scan.
    # The keys' range as constants too: the tables are in time order and ids grow with time,
    # so zone maps skip every row group outside it (the IN over a relation alone, and the
    # UPDATE's join, scanned the whole table).
    lo, hi = pc.min_max(keys).values()
    where = (
        f"t.{qkey} IN ({_int_list(keys.to_pylist())})"
        if len(keys) <= INDEX_LOOKUP_MAX
        else f"t.{qkey} BETWEEN {int(lo.as_py())} AND {int(hi.as_py())} "
        f"AND t.{qkey} IN (SELECT {qkey} FROM _u)"
    )
    old = cur.sql(f"SELECT t.* FROM {table} t WHERE {where}").to_arrow_table()
    if old.num_rows < len(keys):
        bad = pc.invert(pc.is_in(u.column(key), value_set=old.column(key)))
        what = spec["what"]
        raise Rejected(
            _masked(
                u,
                bad,
                key,
                lambda v: (
                    f"{what} {v} does not exist (not in the database nor earlier in this file)"
                ),
                key,
            )
        )
    loader._register("_old", old)
    cols = old.column_names
    select = ", ".join(
        f"CASE WHEN u.line IS NULL THEN t.{_q(c)} ELSE {spec['set'][c]} END AS {_q(c)}"
        if c in spec["set"]
        else f"t.{_q(c)}"
        for c in cols
    )
    current = old
    rounds = pc.max(u.column("rnk")).as_py() or 0
    for r in range(1, rounds + 1):
        loader._register("_cur", current)
        loader._register("_ur", u.filter(pc.equal(u.column("rnk"), r)))
        new = cur.sql(
            f"SELECT {select}, CASE WHEN u.line IS NOT NULL THEN {spec['problem']} END AS _p, "
            f"u.line AS _line FROM _cur t LEFT JOIN _ur u ON u.{qkey} = t.{qkey}"
        ).to_arrow_table()
        found, _ = _rows_problems(new.rename_columns([*cols, "_p", "line"]), "_p")
        if found:
            raise Rejected(found)
        current = new.select(cols)
    loader._register("_cur", current)
    changed = ", ".join(f"{_q(c)} = n.{_q(c)}" for c in spec["set"])
    cur.execute(f"UPDATE {table} t SET {changed} FROM _cur n WHERE t.{qkey} = n.{qkey} AND {where}")
    if table == "transactions":
        refund_deltas(cur, "_old", "_cur", tables=loader._tables)
    else:
        update_deltas(cur, table, "_old", "_cur")


# Update kinds per target table: the key, the fields of the update relation (u), the problem of an
# update against the row's current state (t) as 'field|message', and the new values.
_UPDATES: dict[str, dict[str, Any]] = {
    "transactions": {
        "key": "tx_id",
        "what": "transaction",
        "fields": {"tx_id": "BIGINT", "ts": "TIMESTAMPTZ"},
        "problem": """CASE
            WHEN t.status <> 'success' THEN 'tx_id|payment ' || t.tx_id || ' is ' || t.status
                 || '; only a successful payment can be refunded'
            WHEN u.ts < t.ts THEN 'ts|refund before the payment (' || t.ts || ')'
          END""",
        "set": {"status": "'refunded'", "refunded_at": "u.ts"},
    },
    "payscore_orders": {
        "key": "order_id",
        "what": "payscore order",
        "fields": {
            "order_id": "BIGINT",
            "ts": "TIMESTAMPTZ",
            "amount": "DECIMAL(18,2)",
            "state": "VARCHAR",
        },
        "problem": """CASE
            WHEN u.kind IN ('payscore_complete', 'payscore_cancel')
                 AND t.state NOT IN ('created', 'doing')
              THEN 'order_id|order ' || t.order_id || ' is already ' || t.state
            WHEN u.kind = 'payscore_collect' AND t.state <> 'done'
              THEN 'order_id|order ' || t.order_id || ' is ' || t.state || ', not done'
            WHEN u.kind = 'payscore_collect' AND t.paid_at IS NOT NULL
              THEN 'order_id|order ' || t.order_id || ' is already paid'
            WHEN u.kind = 'payscore_collect' AND u.ts < t.completed_at
              THEN 'ts|collected before the order was completed (' || t.completed_at || ')'
            WHEN u.ts < t.ts THEN 'ts|before the order was created (' || t.ts || ')'
          END""",
        "set": {
            "state": "CASE u.kind WHEN 'payscore_complete' THEN 'done' WHEN 'payscore_cancel' "
            "THEN u.state ELSE t.state END",
            "completed_at": "CASE u.kind WHEN 'payscore_complete' THEN u.ts ELSE t.completed_at END",
            "paid_at": "CASE u.kind WHEN 'payscore_collect' THEN u.ts ELSE t.paid_at END",
            "amount": "CASE u.kind WHEN 'payscore_complete' THEN coalesce(u.amount, t.amount) "
            "ELSE t.amount END",
        },
    },
    "live_sessions": {
        "key": "live_id",
        "what": "live session",
        "fields": {"live_id": "BIGINT", "ts": "TIMESTAMPTZ", "peak_viewers": "INTEGER"},
        "problem": """CASE
            WHEN t.ended_at IS NOT NULL THEN 'live_id|live ' || t.live_id || ' has already ended'
            WHEN u.ts < t.started_at THEN 'ts|before the live started (' || t.started_at || ')'
          END""",
        "set": {"ended_at": "u.ts", "peak_viewers": "coalesce(u.peak_viewers, t.peak_viewers)"},
    },
}


def refund_deltas(
    cur: duckdb.DuckDBPyConnection,
    old: str,
    new: str,
    *,
    tables: set[str] | frozenset[str] = frozenset(),
) -> None:
    """Append the rollup deltas of payments refunded between relations `old` and `new`.

    The deltas are `store.rollups.refunds`'s: pay.refunds and pay.refunded_amount by entry and
    mp.refunded_amount by industry in every sum tier at the original payment, `refunded` of its
    merchant per hour, day and week, and the closed loop's refund step. GMV is not net of refunds,
    so nothing else moves. (`tables` is kept for callers; every ingested file has those rollups.)
    """
    cur.execute(
        "CREATE OR REPLACE TEMP TABLE _refunded AS "
        f"SELECT n.* FROM {new} n JOIN {old} o ON o.tx_id = n.tx_id "
        "WHERE n.status = 'refunded' AND o.status <> 'refunded'"
    )
    # every tier (minute, hour, day; merchant hour, day, week; the closed loop's refund step)
    rollups.refunds(cur, "_refunded")
    cur.execute("DROP TABLE _refunded")


def update_deltas(cur: duckdb.DuckDBPyConnection, table: str, old: str, new: str) -> None:
    """Append the rollup deltas of rows of `table` changing from relation `old` to `new`.

    f(new) - f(old), with f the table's rollup SQL (store.rollups.MINUTE_SQL), over the touched rows
    only. For a Pay Score completion this moves ps.state at the creation minute and adds
    ps.completed, ps.paid_dN, ps.completed_amount and ps.paid_d30_amount at the completion minute.
    Update events never change activity flags, so rollup_active_hour_sample needs no delta.
    """
    # every sum tier (minute, hour, day): one definition, in store.rollups
    rollups.updates(cur, table, old, new)
