"""Appending a batch of new rows (Arrow tables by raw table name) with their rollup deltas.

`append(db_or_con, batch)` inserts every table of the batch by column name and adds the batch's
rollup deltas (`store.rollups.apply`) in ONE transaction: readers see all of it or none of it, and
the rollups never disagree with the raw rows. Columns missing from a batch table get the column's
default (NULL); unknown tables or columns are refused before anything is written.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Mapping
from typing import Any

import duckdb
import pyarrow as pa

from ecotop.store import rollups
from ecotop.store.db import Database
from ecotop.store.errors import BadInput

# Raw tables a batch may add rows to (views, rollups and bookkeeping tables are not).
RAW_TABLES = (
    "users",
    "merchants",
    "official_accounts",
    "mini_programs",
    "wecom_enterprises",
    "channels",
    "groups",
    "app_sessions",
    "oa_follows",
    "oa_articles",
    "oa_reads",
    "mp_visits",
    "transactions",
    "memberships",
    "payscore_orders",
    "wecom_contacts",
    "group_members",
    "wecom_messages",
    "channel_posts",
    "live_sessions",
    "channel_views",
)

# Id columns of new events (for EventStream(start_ids=next_ids(db))): the one list, also
# sample_data.live's.
ID_COLUMNS = {
    "transactions": "tx_id",
    "payscore_orders": "order_id",
    "users": "user_id",
    "merchants": "merchant_id",
}

_seq = itertools.count()


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    rows = con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE table_name = $t AND schema_name = 'main' "
        "AND database_name = current_database() ORDER BY column_index",
        {"t": table},
    ).fetchall()
    return [r[0] for r in rows]


def append(db_or_con: Database | Any, batch: Mapping[str, pa.Table]) -> int:
    """Insert `batch` ({raw table: Arrow table}) and its rollup deltas atomically; returns rows.

    `db_or_con` is a writable `store.Database` (a fresh cursor is used) or a DuckDB connection or
    cursor that belongs to the calling thread and has no open result or transaction.
    """
    own = isinstance(db_or_con, Database)
    con: Any = db_or_con.cursor() if isinstance(db_or_con, Database) else db_or_con
    try:
        return _append(con, batch)
    finally:
        if own:
            con.close()


def _append(con: duckdb.DuckDBPyConnection, batch: Mapping[str, pa.Table]) -> int:
    plan: list[tuple[str, str, list[str], list[str]]] = []
    for table, tbl in batch.items():
        if table not in RAW_TABLES:
            raise BadInput(f"cannot append to {table!r}: not a raw table")
        if not isinstance(tbl, pa.Table):
            raise BadInput(f"{table}: expected a pyarrow.Table, got {type(tbl).__name__}")
        if tbl.num_rows == 0:
            continue
        cols = _columns(con, table)
        unknown = [c for c in tbl.column_names if c not in cols]
        if unknown:
            raise BadInput(f"{table}: unknown column(s) {', '.join(unknown)}")
        n = next(_seq)
        plan.append((table, f"_ingest_arrow_{n}", [c for c in cols if c in tbl.column_names], cols))
    if not plan:
        return 0
    # Register every Arrow table before running anything: register() fails while a result is open.
    for table, view, _, _ in plan:
        con.register(view, batch[table])
    staged: dict[str, str] = {}
    total = 0
    try:
        con.execute("BEGIN TRANSACTION").fetchall()
        try:
            for table, view, given, _ in plan:
                stage = view.replace("_arrow_", "_rows_")
                # A staged copy with every column of the table (missing ones NULL), typed by the
                # table itself, is what both the insert and the rollup deltas read.
                con.execute(
                    f'CREATE OR REPLACE TEMP TABLE {stage} AS SELECT * FROM "{table}" LIMIT 0'
                ).fetchall()
                col_list = ", ".join(f'"{c}"' for c in given)
                con.execute(
                    f"INSERT INTO {stage} ({col_list}) SELECT {col_list} FROM {view}"
                ).fetchall()
                con.execute(f'INSERT INTO "{table}" SELECT * FROM {stage}').fetchall()
                total += con.execute(f"SELECT count(*) FROM {stage}").fetchall()[0][0]
                staged[table] = stage
            rollups.apply(con, staged)
            con.execute("COMMIT").fetchall()
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                con.execute("ROLLBACK").fetchall()
            raise
    finally:
        for stage in staged.values():
            with contextlib.suppress(duckdb.Error):
                con.execute(f"DROP TABLE IF EXISTS {stage}").fetchall()
        for _, view, _, _ in plan:
            with contextlib.suppress(duckdb.Error):
                con.unregister(view)
    return total


def next_ids(db_or_con: Database | Any) -> dict[str, int]:
    """{id column: max + 1} of the event tables, for `EventStream(start_ids=...)`."""
    own = isinstance(db_or_con, Database)
    con: Any = db_or_con.cursor() if isinstance(db_or_con, Database) else db_or_con
    try:
        out = {}
        for table, col in ID_COLUMNS.items():
            (mx,) = con.execute(f'SELECT coalesce(max("{col}"), 0) FROM "{table}"').fetchall()[0]
            out[col] = int(mx) + 1
        return out
    finally:
        if own:
            con.close()
