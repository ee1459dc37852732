"""What ad-hoc SQL may be and call, the bounds on its size, and the lockdown every connection gets.

Measured on duckdb 1.5.5 (tests/test_guard.py proves every claim; tests/security/ attacks it).
"""

from __future__ import annotations

import os
import re

import duckdb

__all__ = [
    "ALLOWED_TABLE_FUNCTIONS",
    "DENIED_FUNCTIONS",
    "READ_ONLY_PRAGMAS",
    "SIDE_EFFECTS_ALLOWED",
    "TABLE_ONLY_DENIED",
    "Bounds",
    "is_locked_down",
    "lockdown",
]

# Settings every connection gets before its configuration is locked. Progress-bar settings are
# per connection (cursor) and cannot be set globally, so they stay changeable.
_PROGRESS_SETTINGS = ("enable_progress_bar", "enable_progress_bar_print")
_LOCKDOWN = (
    "SET allowed_configs = ['enable_progress_bar', 'enable_progress_bar_print']",
    "SET enable_progress_bar = true",
    "SET enable_progress_bar_print = false",
    "SET python_enable_replacements = false",
    "SET autoinstall_known_extensions = false",
    "SET autoload_known_extensions = false",
    "SET allow_community_extensions = false",
    "SET enable_external_access = false",
    "SET lock_configuration = true",
)


def is_locked_down(cur: duckdb.DuckDBPyConnection) -> bool:
    """True when this connection's instance has external access off and its configuration locked."""
    # fetchall, not fetchone: an unfinished result would make a later register() on `cur` fail
    rows = cur.execute(
        "SELECT current_setting('enable_external_access'), current_setting('lock_configuration')"
    ).fetchall()
    return rows == [(False, True)]


def lockdown(con: duckdb.DuckDBPyConnection) -> None:
    """Turn off file/network access from SQL and lock the configuration; idempotent.

    Set everything the store needs (TimeZone, threads, memory, temp directory) before calling this:
    afterwards no SET, RESET or setting PRAGMA succeeds on any connection of this database instance,
    except the two per-cursor progress-bar settings. A second `duckdb.connect` to a file this process
    already has open shares the locked instance; then this only enables the progress bar.
    """
    if is_locked_down(con):
        _enable_progress(con)
        return
    for statement in _LOCKDOWN:
        con.execute(statement)


def _enable_progress(cur: duckdb.DuckDBPyConnection) -> None:
    cur.execute("SET enable_progress_bar = true")
    cur.execute("SET enable_progress_bar_print = false")


# ---------------------------------------------------------------------------------------------
# Bounds DuckDB's memory_limit does not enforce: a statement's text, its nesting and its chain of
# set operations are checked before DuckDB parses or binds it (a 10,000-term UNION ALL reached
# 2.76 GB, 600 nested subqueries overflow the parser's expression depth), and functions that build
# one huge value from a constant size are refused above a cap (`repeat('x', 2e9)` allocates 2 GB in
# one piece, which no memory_limit sees; `ecotop query` also runs under a process ceiling).


class Bounds:
    """Size bounds of one ad-hoc statement (ECOTOP_SQL_MAX_CHARS, ECOTOP_SQL_MAX_DEPTH,
    ECOTOP_SQL_MAX_SET_OPS, ECOTOP_SQL_MAX_VALUE_BYTES override the defaults)."""

    @staticmethod
    def _env(name: str, default: int) -> int:
        try:
            return max(1, int(os.environ.get(name, "") or default))
        except ValueError:
            return default

    @property
    def max_chars(self) -> int:
        """Characters in one statement."""
        return self._env("ECOTOP_SQL_MAX_CHARS", 100_000)

    @property
    def max_depth(self) -> int:
        """Nesting of parentheses (subqueries, calls) in one statement."""
        return self._env("ECOTOP_SQL_MAX_DEPTH", 250)

    @property
    def max_set_ops(self) -> int:
        """UNION/EXCEPT/INTERSECT in one statement."""
        return self._env("ECOTOP_SQL_MAX_SET_OPS", 1_000)

    @property
    def max_value_bytes(self) -> int:
        """The largest size a constant may ask of repeat(), lpad(), rpad() and friends."""
        return self._env("ECOTOP_SQL_MAX_VALUE_BYTES", 64 * 2**20)


BOUNDS = Bounds()

# Functions whose size argument (0-based position) makes one value that large in one allocation.
SIZED_FUNCTIONS: dict[str, int] = {
    "repeat": 1,
    "lpad": 1,
    "rpad": 1,
    "list_resize": 1,
    "array_resize": 1,
}

# ---------------------------------------------------------------------------------------------
# Policy: what a statement may be, and what it may call.

_KIND_REASONS: dict[str, str] = {
    "INSERT": "changes data",
    "UPDATE": "changes data",
    "DELETE": "changes data",
    "MERGE_INTO": "changes data",
    "CREATE": "changes the schema",
    "CREATE_FUNC": "changes the schema",
    "DROP": "changes the schema",
    "ALTER": "changes the schema",
    "COPY": "reads or writes files",
    "COPY_DATABASE": "copies a database",
    "EXPORT": "writes files",
    "ATTACH": "attaches a database",
    "DETACH": "detaches a database",
    "LOAD": "installs or loads an extension",
    "EXTENSION": "installs or loads an extension",
    "SET": "changes a setting",
    "VARIABLE_SET": "changes a setting",
    "CALL": "calls a procedure",
    "VACUUM": "maintains storage",
    "ANALYZE": "maintains storage",
    "TRANSACTION": "controls the transaction",
    "PREPARE": "prepares a statement",
    "EXECUTE": "runs a prepared statement",
    "MULTI": "runs several statements (write PIVOT ... ON col IN (...) with explicit values)",
    "UNKNOWN": "is a kind of statement ad-hoc SQL may not run",
}

# PRAGMAs that only read; every other PRAGMA (they mostly change settings) is refused.
READ_ONLY_PRAGMAS = frozenset(
    {
        "collations",
        "database_list",
        "database_size",
        "functions",
        "metadata_info",
        "platform",
        "show_databases",
        "show_tables",
        "show_tables_expanded",
        "storage_info",
        "table_info",
        "user_agent",
        "version",
    }
)

# DuckDB 1.5.5's built-in table functions (and table macros) that ad-hoc SQL may call.
ALLOWED_TABLE_FUNCTIONS = frozenset(
    {
        "duckdb_approx_database_count",
        "duckdb_columns",
        "duckdb_connection_count",
        "duckdb_constraints",
        "duckdb_coordinate_systems",
        "duckdb_databases",
        "duckdb_dependencies",
        "duckdb_functions",
        "duckdb_indexes",
        "duckdb_keywords",
        "duckdb_memory",
        "duckdb_optimizers",
        "duckdb_schemas",
        "duckdb_secret_types",
        "duckdb_sequences",
        "duckdb_settings",
        "duckdb_table_sample",
        "duckdb_tables",
        "duckdb_types",
        "duckdb_variables",
        "duckdb_views",
        "generate_series",
        "icu_calendar_names",
        "json_each",
        "json_tree",
        "pg_timezone_names",
        "pragma_collations",
        "pragma_database_size",
        "pragma_metadata_info",
        "pragma_platform",
        "pragma_show",
        "pragma_storage_info",
        "pragma_table_info",
        "pragma_user_agent",
        "pragma_version",
        "range",
        "repeat",
        "repeat_row",
        "summary",
        "test_all_types",
        "unnest",
    }
)

_READS_FILES = "reads or lists files"
_RUNS_SQL = "runs SQL given as text, which the guard cannot check"
_STATE = "changes the state of the database or session"

# Functions ad-hoc SQL may not call, with why. Every built-in table function of DuckDB 1.5.5 is
# either here or in ALLOWED_TABLE_FUNCTIONS (a test fails when an upgrade brings a new one), and so
# is every scalar function DuckDB marks as having side effects (or it is in SIDE_EFFECTS_ALLOWED).
DENIED_FUNCTIONS: dict[str, str] = {
    **dict.fromkeys(
        (
            "glob",
            "parquet_bloom_probe",
            "parquet_file_metadata",
            "parquet_full_metadata",
            "parquet_kv_metadata",
            "parquet_metadata",
            "parquet_page_index",
            "parquet_scan",
            "parquet_schema",
            "read_blob",
            "read_csv",
            "read_csv_auto",
            "read_duckdb",
            "read_json",
            "read_json_auto",
            "read_json_objects",
            "read_json_objects_auto",
            "read_ndjson",
            "read_ndjson_auto",
            "read_ndjson_objects",
            "read_parquet",
            "read_single_csv_file",
            "read_single_json_file",
            "read_single_parquet_file",
            "read_text",
            "sniff_csv",
            "duckdb_temporary_files",
            "duckdb_external_file_cache",
            "duckdb_extensions",
            "duckdb_extension_repositories",
        ),
        _READS_FILES,
    ),
    **dict.fromkeys(
        ("query", "query_table", "json_execute_serialized_sql", "json_serialize_plan"), _RUNS_SQL
    ),
    **dict.fromkeys(
        (
            "arrow_scan",
            "arrow_scan_dumb",
            "pandas_scan",
            "python_arrow_scan",
            "python_map_function",
            "seq_scan",
            "test_vector_types",
        ),
        "is internal to DuckDB and its Python client",
    ),
    **dict.fromkeys(
        (
            "checkpoint",
            "force_checkpoint",
            "enable_logging",
            "disable_logging",
            "enable_profiling",
            "disable_profiling",
            "truncate_duckdb_logs",
            "write_log",
            "setseed",
            "add_grammar_extension",
            "remove_grammar_extension",
            "create_external_resource",
            "deregister_external_resource",
            "destroy_external_resource",
            "register_external_resource",
            "register_external_resource_type",
        ),
        _STATE,
    ),
    **dict.fromkeys(
        (
            "duckdb_logs",
            "duckdb_logs_parsed",
            "duckdb_log_contexts",
            "duckdb_live_query_metrics",
            "duckdb_prepared_statements",
            "duckdb_profiling_settings",
            "duckdb_eviction_queues",
            "duckdb_grammar_extensions",
            "duckdb_external_resources",
            "duckdb_external_resource_types",
        ),
        "shows other sessions' queries or the process's internals",
    ),
    # the lake's extensions (store/lake.py): SQL run in the Postgres catalog, maintenance that
    # writes or deletes, options (setting one after the lockdown crashes DuckDB), file lists
    **dict.fromkeys(
        (
            "postgres_query",
            "postgres_execute",
            "postgres_scan",
            "postgres_scan_pushdown",
            "postgres_attach",
            "postgres_configure_pool",
            "pg_clear_cache",
            "read_postgres_binary",
        ),
        "reaches the lake's Postgres catalog directly",
    ),
    **dict.fromkeys(
        (
            "ducklake_add_data_files",
            "ducklake_cleanup_old_files",
            "ducklake_commit",
            "ducklake_delete_orphaned_files",
            "ducklake_expire_snapshots",
            "ducklake_flush_inlined_data",
            "ducklake_merge_adjacent_files",
            "ducklake_rewrite_data_files",
            "ducklake_set_commit_message",
            "ducklake_set_option",
        ),
        "maintains the lake (ecotop lake maintain does)",
    ),
    **dict.fromkeys(("ducklake_list_files", "ducklake_scan", "ducklake_options"), _READS_FILES),
    # table macros that run query_table() on a caller-supplied name: a file in the temp directory
    "histogram": "reads the table or file it is given by name",
    "histogram_values": "reads the table or file it is given by name",
    "nextval": "changes a sequence (sequences ignore ROLLBACK)",
    "setval": "changes a sequence (sequences ignore ROLLBACK)",
    "duckdb_secrets": "lists secrets",
    "which_secret": "looks up secrets",
    "getenv": "reads the environment",
    "sleep_ms": "only waits",
    "pg_sleep": "only waits",
    "__internal_json_copy_to_json": "is internal to DuckDB",
    "__internal_json_copy_to_geojson": "is internal to DuckDB",
}

# Denied only as a table function: the aggregate histogram(col) only reads its column.
TABLE_ONLY_DENIED = frozenset({"histogram"})

# Scalar functions DuckDB marks as having side effects that are harmless in a read-only query.
SIDE_EFFECTS_ALLOWED = frozenset(
    {
        "current_connection_id",
        "current_query",
        "current_query_id",
        "current_transaction_id",
        "currval",
        "error",
        "gen_random_uuid",
        "random",
        "stats",
        "uuid",
        "uuidv4",
        "uuidv7",
        "vector_type",
    }
)

_QUERY_NODES = frozenset({"SELECT_NODE", "SET_OPERATION_NODE", "RECURSIVE_CTE_NODE", "CTE_NODE"})
_TABLE_REFS = frozenset(
    {
        "BASE_TABLE",
        "EMPTY",
        "EXPRESSION_LIST",
        "JOIN",
        "PIVOT",
        "SHOW_REF",
        "SUBQUERY",
        "TABLE_FUNCTION",
    }
)
# A table name with one of these is a file or URL to DuckDB's replacement scans, never one of ours.
_PATHLIKE = re.compile(r"[/\\:.*?~\s]|^\$")
# `FROM data.csv` parses as schema "data", table "csv"; DuckDB then scans the file data.csv.
_FILE_EXTENSIONS = frozenset(
    [
        "arrow",
        "avro",
        "csv",
        "db",
        "duckdb",
        "feather",
        "gz",
        "ipc",
        "json",
        "jsonl",
        "ndjson",
        "orc",
        "parquet",
        "tsv",
        "txt",
        "xlsx",
        "zst",
    ]
)
