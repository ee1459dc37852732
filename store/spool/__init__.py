"""Spool ingestion: other processes drop event files into a directory; ecotop loads each exactly once.

A file is read once into memory (its SHA-256 is taken from those bytes) and parsed into Arrow
(pyarrow's readers; NDJSON that they cannot take line by line goes through DuckDB's JSON functions;
SQL itself never opens a file). Its rows are split by event kind (store.spool_format) and typed and
checked kind by kind, vectorised: pyarrow casts and masks first, and where anything is off DuckDB's
TRY_CAST checks over the registered Arrow data name the line and field of every problem. Ids must
exist in the database (looked up by primary-key index or semi join) or be created on an earlier line.
Then the file is loaded in ONE transaction with its rollup deltas and its `ingest_log` row, and only
then moves to `done/` (or is deleted). The next file is read and typed on a helper thread meanwhile.

Exactly once, across crashes: a crash before COMMIT leaves nothing (the file is still in the spool and
is loaded again); a crash after COMMIT but before the move leaves a file whose checksum `ingest_log`
holds as 'ingested', so the next pass skips it (logging 'duplicate') and moves it on. A file dropped
again with the same content is skipped the same way.

Bad input never half-loads: a file with any problem moves to `rejected/` beside `<name>.reason`, which
names the line (row, for Parquet) and field of each problem; the other files go on.

The parts: `results` (problems, the per-file result), `read` (bytes to Arrow), `check` (types, sets,
duplicate keys), `load` (the Loader and its transactions), `updates` (update events and their
deltas), `directory` (the Spool: candidates, lock, done/rejected, caps), `feed` (SpoolFeed).
"""

from __future__ import annotations

from ecotop.store.spool.check import arrow_stage, stage, stage_sql
from ecotop.store.spool.directory import (
    DEFAULT_WAL_LIMIT,
    GROUP_FILE_EVENTS,
    LOCK_NAME,
    IngestFailed,
    Spool,
    group_events,
    is_candidate,
    reason_text,
)
from ecotop.store.spool.feed import SpoolFeed
from ecotop.store.spool.load import Loader, Prepared
from ecotop.store.spool.read import (
    DEFAULT_MAX_FILE,
    DEFAULT_MAX_LINE,
    FORMATS,
    Parsed,
    file_format,
    file_kind,
    max_file_bytes,
    max_line_bytes,
    parse,
    parse_csv,
    parse_ndjson,
    parse_parquet,
    read_ndjson_fast,
    sha256,
    split_by_kind,
)
from ecotop.store.spool.results import INDEX_LOOKUP_MAX, MAX_PROBLEMS, FileResult, Problem, Rejected
from ecotop.store.spool.updates import apply_updates, refund_deltas, update_deltas

__all__ = [
    "DEFAULT_MAX_FILE",
    "DEFAULT_MAX_LINE",
    "DEFAULT_WAL_LIMIT",
    "FORMATS",
    "GROUP_FILE_EVENTS",
    "INDEX_LOOKUP_MAX",
    "LOCK_NAME",
    "MAX_PROBLEMS",
    "FileResult",
    "IngestFailed",
    "Loader",
    "Parsed",
    "Prepared",
    "Problem",
    "Rejected",
    "Spool",
    "SpoolFeed",
    "apply_updates",
    "arrow_stage",
    "file_format",
    "file_kind",
    "group_events",
    "is_candidate",
    "max_file_bytes",
    "max_line_bytes",
    "parse",
    "parse_csv",
    "parse_ndjson",
    "parse_parquet",
    "read_ndjson_fast",
    "reason_text",
    "refund_deltas",
    "sha256",
    "split_by_kind",
    "stage",
    "stage_sql",
    "update_deltas",
]
