"""The guard for ad-hoc SQL: only reads of this database, bounded, in a read-only transaction.

Ad-hoc SQL (the console, `ecotop query`, the `serve` socket) may read every table and view of the
open file and nothing else: no statement changes data, schema, sequences or settings, reads or lists
files, or reaches the network -- also in the process that holds the file open for writing. Three
layers, each measured on duckdb 1.5.5 (tests/test_guard.py proves every claim, tests/security/
attacks them):

1. `check(sql)` (check.py) parses with DuckDB itself after bounding the text (policy.Bounds) and
   refuses everything but SELECT, EXPLAIN of a SELECT and read-only PRAGMAs, walking each SELECT's
   syntax tree for functions and names that reach files, SQL given as text, sequences or state.
2. `lockdown(con)` (policy.py) runs on every connection `store.db.connect` opens: external access
   off (no file or network access from SQL, no extension loading, no Python replacement scans) and
   the configuration locked. On 1.5.5 the lock does not stop `PRAGMA enable_profiling` or
   `CALL enable_logging()`; layer 1 refuses both.
3. `run`/`stream` (run.py) execute one checked statement inside `BEGIN TRANSACTION READ ONLY` and
   always roll back; they refuse a cursor that was not locked down.

Cursors. Give `run`/`stream` a cursor of its own (`db.cursor()`), not in a transaction; any other
`execute()` on it while a stream is open ends that stream. `cur.interrupt()` from another thread
cancels a running statement; `run`/`stream` then raise `SqlCancelled`.

Errors (errors.py). A refused statement raises `SqlRefused` (one line naming the statement and why;
attributes `index` (1-based), `statement`, `reason`). A DuckDB error raises `SqlError` with a
one-line message ending in "(line L, column C)" when DuckDB gave a position, and attributes `line`,
`column` (1-based), `offset` (0-based), `length` (or None), relative to the text parsed: the whole
`sql` for `check`, the statement for `run` and `stream`.
"""

from __future__ import annotations

from ecotop.store.guard.check import check
from ecotop.store.guard.errors import SqlCancelled, sql_error
from ecotop.store.guard.policy import (
    ALLOWED_TABLE_FUNCTIONS,
    BOUNDS,
    DENIED_FUNCTIONS,
    READ_ONLY_PRAGMAS,
    SIDE_EFFECTS_ALLOWED,
    TABLE_ONLY_DENIED,
    Bounds,
    is_locked_down,
    lockdown,
)
from ecotop.store.guard.run import AdhocResult, AdhocStream, run, stream

__all__ = [
    "ALLOWED_TABLE_FUNCTIONS",
    "BOUNDS",
    "DENIED_FUNCTIONS",
    "READ_ONLY_PRAGMAS",
    "SIDE_EFFECTS_ALLOWED",
    "TABLE_ONLY_DENIED",
    "AdhocResult",
    "AdhocStream",
    "Bounds",
    "SqlCancelled",
    "check",
    "is_locked_down",
    "lockdown",
    "run",
    "sql_error",
    "stream",
]
