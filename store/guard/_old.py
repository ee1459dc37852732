"""The guard for ad-hoc SQL: only reads of this database, bounded, in a read-only transaction.

Ad-hoc SQL (the console, `ecotop query`, the `serve` socket) may read every table and view of the
open file and nothing else: no statement changes data, schema, sequences or settings, reads or lists
files, or reaches the network -- also in the process that holds the file open for writing. Three
layers, each measured on duckdb 2.0.1 (tests/test_guard.py proves every claim):

1. `check(sql)` parses with DuckDB itself. `extract_statements` gives each statement's kind; only
   SELECT (with DESCRIBE/SHOW/SUMMARIZE, which parse as SELECT), EXPLAIN [ANALYZE] of a SELECT and a
   short list of read-only PRAGMAs pass. Each SELECT's syntax tree (`json_serialize_sql`) is walked:
   data-modifying CTEs, functions that run SQL, read files, touch sequences, secrets, settings or
   logs, and tables named like files (replacement scans: `FROM '/etc/passwd'`) are refused.
2. `lockdown(con)` runs on every connection `store.db.connect` opens: it turns off external access
   (no file or network access from SQL, no extension loading, no Python replacement scans; Arrow
   tables registered from Python still work, and so do CHECKPOINT and spilling to the temp
   directory) and then locks the configuration so no later SET or PRAGMA can change a setting.
   Only the per-cursor progress-bar settings stay changeable (`allowed_configs`).
3. `run`/`stream` execute one checked statement on the caller's cursor inside
   `BEGIN TRANSACTION READ ONLY` (writes to the file, nextval/setval, data-modifying CTEs fail in
   it) and always roll back. They refuse a cursor whose connection was not locked down.

Results are bounded: the row limit is pushed into DuckDB as LIMIT n + 1 on the statement's relation,
so `truncated` is exact and nothing beyond n + 1 rows is ever produced.

Cursors. Give `run`/`stream` a cursor of its own (`db.cursor()`), not in a transaction; any other
`execute()` on it while a stream is open ends that stream. `cur.interrupt()` from another thread
cancels a running statement (measured 0.5-1 ms); `run`/`stream` then raise `SqlCancelled`.
`cur.query_progress()` from another thread reports progress (run/stream enable it on the cursor).

Errors. A refused statement raises `SqlRefused` (one line naming the statement and why; attributes
`index` (1-based), `statement`, `reason`). A DuckDB error (syntax, binder, catalog, conversion, ...)
raises `SqlError` with a one-line message ending in "(line L, column C)" when DuckDB gave a position,
and attributes `line`, `column` (1-based), `offset` (0-based character offset), `length` (or None),
all relative to the text that was parsed: the whole `sql` for `check`, the statement for `run` and
`stream`. The console adds the statement's offset in its buffer (statements from `check` are
verbatim, consecutive slices of `sql`).
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa

from ecotop.store.errors import SqlError, SqlRefused

__all__ = [
    "AdhocResult",
    "AdhocStream",
    "SqlCancelled",
    "check",
    "is_locked_down",
    "lockdown",
    "run",
    "stream",
]

# Settings every connection gets before its configuration is locked. Progress-bar settings are
# per connection (cursor) in DuckDB 2.0 and cannot be set globally, so they stay changeable.
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


class SqlCancelled(SqlError):
    """The statement was cancelled (`cur.interrupt()` from another thread)."""


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

# DuckDB 2.0.1's built-in table functions (and table macros) that ad-hoc SQL may call.
ALLOWED_TABLE_FUNCTIONS = frozenset(
    {
        "duckdb_approx_database_count",
        "duckdb_available_metrics",
        "duckdb_columns",
        "duckdb_connection_count",
        "duckdb_constraints",
        "duckdb_coordinate_systems",
        "duckdb_databases",
        "duckdb_dependencies",
        "duckdb_dialects",
        "duckdb_functions",
        "duckdb_indexes",
        "duckdb_keywords",
        "duckdb_memory",
        "duckdb_optimizers",
        "duckdb_schemas",
        "duckdb_secret_type_parameters",
        "duckdb_secret_types",
        "duckdb_sequences",
        "duckdb_settings",
        "duckdb_table_sample",
        "duckdb_tables",
        "duckdb_triggers",
        "duckdb_types",
        "duckdb_variables",
        "duckdb_views",
        "generate_series",
        "histogram",
        "histogram_values",
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

# Functions ad-hoc SQL may not call, with why. Every built-in table function of DuckDB 2.0.1 is
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

# ---------------------------------------------------------------------------------------------
# Parsing

_parser_lock = threading.Lock()
_parser: duckdb.DuckDBPyConnection | None = None


def _parser_con() -> duckdb.DuckDBPyConnection:
    global _parser
    if _parser is None:
        con = duckdb.connect(":memory:", config={"threads": 1})
        lockdown(con)
        _parser = con
    return _parser


def _short(statement: str, width: int = 60) -> str:
    text = " ".join(_strip_comments(statement).split()).rstrip(";").strip()
    return text if len(text) <= width else text[: width - 1] + "…"


def _strip_comments(sql: str) -> str:
    out: list[str] = []
    try:
        tokens = duckdb.tokenize(sql)
    except Exception:
        return sql
    for i, (start, kind) in enumerate(tokens):
        end = tokens[i + 1][0] if i + 1 < len(tokens) else len(sql)
        if kind != duckdb.token_type.comment:
            out.append(sql[start:end])
    return "".join(out)


def _refuse(index: int, statement: str, reason: str) -> SqlRefused:
    short = _short(statement)
    err = SqlRefused(f"refused statement {index} ({short}): {reason}; ad-hoc SQL only reads")
    err.index = index  # type: ignore[attr-defined]
    err.statement = statement  # type: ignore[attr-defined]
    err.reason = reason  # type: ignore[attr-defined]
    return err


def check(sql: str, cur: duckdb.DuckDBPyConnection | None = None) -> list[str]:
    """Split `sql` into statements and return them if every one may run as ad-hoc SQL.

    Raises SqlRefused (naming the first statement refused and why) or SqlError (a syntax error, with
    its position in `sql`). Empty or comment-only text gives []. The statements are verbatim,
    consecutive slices of `sql` (each with its trailing `;`), in order. With `cur`, parsing runs on
    that cursor (it invalidates an open result there) and schema-qualified table names must exist in
    its catalog; without, a private in-memory DuckDB parses.
    """
    return [text for text, _ in _checked(sql, cur)]


def _checked(sql: str, cur: duckdb.DuckDBPyConnection | None) -> list[tuple[str, str]]:
    if cur is None:
        with _parser_lock:
            return _check(_parser_con(), sql, catalog=None)
    return _check(cur, sql, catalog=_Catalog(cur))


class _Catalog:
    """The tables and views a cursor can see, looked up only when a query names one qualified."""

    def __init__(self, cur: duckdb.DuckDBPyConnection) -> None:
        self._cur = cur
        self._objects: set[tuple[str, str, str]] | None = None

    def has(self, db: str, schema: str, name: str) -> bool:
        if self._objects is None:
            rows = self._cur.execute(
                "SELECT database_name, schema_name, table_name FROM duckdb_tables() "
                "UNION ALL SELECT database_name, schema_name, view_name FROM duckdb_views()"
            ).fetchall()
            self._objects = {(d.lower(), s.lower(), n.lower()) for d, s, n in rows}
        name = name.lower()
        if db:  # catalog.schema.name
            return (db, schema, name) in self._objects
        # schema.name, or catalog.name (its default schema)
        return any(n == name and schema in (s, d) for d, s, n in self._objects)


def _check(
    con: duckdb.DuckDBPyConnection, sql: str, catalog: _Catalog | None
) -> list[tuple[str, str]]:
    if not isinstance(sql, str):
        raise SqlRefused("ad-hoc SQL must be text")
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise sql_error(exc, sql) from None
    out: list[tuple[str, str]] = []
    for index, st in enumerate(statements, 1):
        kind = _kind(st)
        _check_statement(con, index, st.query, kind, catalog)
        out.append((st.query, kind))
    return out


def _kind(statement: Any) -> str:
    try:
        return statement.type.name
    except ValueError:  # a kind the Python client does not know (e.g. UPDATE EXTENSIONS)
        return "UNKNOWN"


def _check_statement(
    con: duckdb.DuckDBPyConnection, index: int, text: str, kind: str, catalog: _Catalog | None
) -> None:
    if kind == "SELECT":
        _check_select(con, index, text, text, catalog)
    elif kind == "EXPLAIN":
        inner = _after_explain(text)
        if inner is None:
            raise _refuse(index, text, "EXPLAIN of something the guard cannot read")
        try:
            inner_statements = con.extract_statements(inner)
        except duckdb.Error:
            raise _refuse(index, text, "EXPLAIN of something the guard cannot read") from None
        if len(inner_statements) != 1 or _kind(inner_statements[0]) != "SELECT":
            what = _kind(inner_statements[0]) if inner_statements else "nothing"
            raise _refuse(index, text, f"EXPLAIN of {what}: only a SELECT may be explained")
        _check_select(con, index, text, inner, catalog)
    elif kind == "PRAGMA":
        name = _pragma_name(text)
        if name is None:
            raise _refuse(index, text, "imports or copies a database")
        if name not in READ_ONLY_PRAGMAS:
            raise _refuse(index, text, f"PRAGMA {name} is not a read-only pragma")
    else:
        raise _refuse(index, text, _KIND_REASONS.get(kind, f"{kind} is not a read-only statement"))


def _significant_tokens(text: str) -> list[tuple[int, Any]]:
    return [t for t in duckdb.tokenize(text) if t[1] != duckdb.token_type.comment]


def _after_explain(text: str) -> str | None:
    """The statement an EXPLAIN explains: what follows EXPLAIN [ANALYZE] [(options)]."""
    tokens = _significant_tokens(text)
    if not tokens or not text[tokens[0][0] :].upper().startswith("EXPLAIN"):
        return None
    i = 1
    if i < len(tokens) and text[tokens[i][0] :].upper().startswith("ANALYZE"):
        i += 1
    if i < len(tokens) and text[tokens[i][0]] == "(":
        depth = 0
        while i < len(tokens):
            ch = text[tokens[i][0]]
            if tokens[i][1] == duckdb.token_type.operator and ch == "(":
                depth += 1
            elif tokens[i][1] == duckdb.token_type.operator and ch == ")":
                depth -= 1
                if depth == 0:
                    i += 1
                    break
            i += 1
    if i >= len(tokens):
        return None
    return text[tokens[i][0] :]


def _pragma_name(text: str) -> str | None:
    """The name of `PRAGMA name...`, or None when the statement is not written as a PRAGMA."""
    tokens = _significant_tokens(text)
    if len(tokens) < 2 or not text[tokens[0][0] :].upper().startswith("PRAGMA"):
        return None
    m = re.match(r'"?([A-Za-z_][A-Za-z0-9_]*)"?', text[tokens[1][0] :])
    if not m:
        return "?"
    name = m.group(1).lower()
    rest = tokens[2:]
    if rest and text[rest[0][0]] == "=":
        return f"{name} = ..."  # assigns a setting
    return name


def _check_select(
    con: duckdb.DuckDBPyConnection, index: int, text: str, select: str, catalog: _Catalog | None
) -> None:
    try:
        rows = con.execute("SELECT json_serialize_sql($sql::VARCHAR)", {"sql": select}).fetchall()
    except duckdb.Error as exc:
        raise sql_error(exc, select) from None
    try:
        tree = json.loads(rows[0][0]) if rows else {"error": True}
    except RecursionError:  # fail closed: Python's JSON reader stops near 1000 levels
        raise _refuse(index, text, "nested too deeply for the guard to check") from None
    if tree.get("error"):
        raise _refuse(index, text, "a query the guard cannot read")
    problem = _walk(tree, catalog)
    if problem:
        raise _refuse(index, text, problem)


def _walk(tree: Any, catalog: _Catalog | None) -> str | None:
    """The first reason to refuse found in a serialized SELECT (depth first), or None."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(reversed(node))
            continue
        if not isinstance(node, dict):
            continue
        problem = _node_problem(node, catalog)
        if problem:
            return problem
        stack.extend(reversed([v for v in node.values() if isinstance(v, dict | list)]))
    return None


def _node_problem(node: dict[str, Any], catalog: _Catalog | None) -> str | None:
    kind = node.get("type")
    if isinstance(kind, str):
        if kind.endswith("_QUERY_NODE") or (
            kind.endswith("_NODE") and "cte_map" in node and kind not in _QUERY_NODES
        ):
            verb = kind.removesuffix("_QUERY_NODE").removesuffix("_NODE")
            return f"a {verb} inside the query changes data"
        if "sample" in node and "alias" in node and kind not in _TABLE_REFS:
            return f"reads from a {kind.lower()}, which the guard cannot check"
        if kind == "BASE_TABLE":
            problem = _table_problem(node, catalog)
            if problem:
                return problem
        if kind == "SHOW_REF" and node.get("show_type") == "SHOW":
            name = node.get("table_name") or ""
            if _PATHLIKE.search(name):
                return f"names the file {name!r}; reading files is not allowed"
    fn = node.get("function_name")
    if isinstance(fn, str):
        name = fn.lower()
        if name in DENIED_FUNCTIONS or name.startswith("__internal"):
            reason = DENIED_FUNCTIONS.get(name, "is internal to DuckDB")
            return f"calls {name}(), which {reason}"
    return None


def _table_problem(node: dict[str, Any], catalog: _Catalog | None) -> str | None:
    name = node.get("table_name") or ""
    schema = (node.get("schema_name") or "").lower()
    db = (node.get("catalog_name") or "").lower()
    if (
        _PATHLIKE.search(name)
        or _PATHLIKE.search(schema)
        or _PATHLIKE.search(db)
        or ((db or schema) and name.lower() in _FILE_EXTENSIONS)
    ):
        shown = ".".join(p for p in (db, schema, name) if p)
        return f"reads {shown!r}, which is not a table here; reading files is not allowed"
    if catalog is not None and (db or schema) and not catalog.has(db, schema, name):
        shown = ".".join(p for p in (db, schema, name) if p)
        return f"{shown!r} is not a table or view of this database; reading files is not allowed"
    return None


# ---------------------------------------------------------------------------------------------
# Errors

_ERROR_RE = re.compile(
    r"^(?P<msg>.*?)\n\nLINE (?P<line>\d+): (?P<src>[^\n]*)\n(?P<pad> *)(?P<caret>\^+)\s*$", re.S
)
_MAX_MESSAGE = 400


def sql_error(exc: BaseException, text: str) -> SqlError:
    """A one-line SqlError from a DuckDB error, keeping the position DuckDB reported in `text`."""
    if isinstance(exc, duckdb.InterruptException) or str(exc).startswith("INTERRUPT Error"):
        return _error(SqlCancelled, "query interrupted (cancelled)")
    raw = str(exc).strip()
    m = _ERROR_RE.match(raw)
    if not m:
        return _error(SqlError, _one_line(raw) or type(exc).__name__)
    reported = int(m.group("line"))
    caret = len(m.group("pad")) - len(f"LINE {reported}: ")
    where = _locate(text, reported, m.group("src"), caret)
    if where is None:
        return _error(SqlError, _one_line(m.group("msg")))
    return _error(SqlError, _one_line(m.group("msg")), *where, len(m.group("caret")), text)


def _one_line(message: str) -> str:
    # Drop DuckDB's indented candidate lists ("\t"+...) and fold the rest onto one line.
    lines = [x for x in message.split("\n") if not x.startswith("\t")]
    if len(lines) > 1 and lines[-1].rstrip().endswith(":"):
        lines.pop()
    text = " ".join(" ".join(lines).split())
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"


def _error(
    cls: type[SqlError],
    message: str,
    line: int | None = None,
    column: int | None = None,
    length: int | None = None,
    text: str = "",
) -> SqlError:
    offset = None
    if line is not None and column is not None:
        offset = sum(len(x) + 1 for x in text.split("\n")[: line - 1]) + column - 1
    where = ""
    if line is not None:
        where = f" (line {line}, column {column})" if column else f" (line {line})"
    err = cls(message + where)
    err.message = message  # type: ignore[attr-defined]
    err.line, err.column, err.offset, err.length = line, column, offset, length  # type: ignore[attr-defined]
    return err


def _locate(text: str, line: int, shown: str, caret: int) -> tuple[int, int] | None:
    """(line, column), 1-based, of a caret under DuckDB's copy of a line of `text`.

    DuckDB elides long lines ("... tail"), and errors of a relation count lines of the SQL it wraps
    around `text`: so the copy is looked up in `text`, at the reported line first.
    """
    lines = text.split("\n")
    elided = shown.startswith("...")
    visible = shown[3:] if elided else shown
    if visible.endswith("..."):
        visible = visible[:-3]
    shift = 3 if elided else 0
    candidates = [line] if 1 <= line <= len(lines) else []
    candidates += [n for n in range(1, len(lines) + 1) if n != line]
    for n in candidates:
        source = lines[n - 1]
        at = source.find(visible) if elided else (0 if source.startswith(visible) else -1)
        if at >= 0 and caret >= shift:
            return n, at + caret - shift + 1
    return None


def _positioned(
    cur: duckdb.DuckDBPyConnection, exc: duckdb.Error, text: str, kind: str
) -> SqlError:
    """The error of building a relation, with its position.

    DuckDB's relation API drops the "LINE n" position of binder and catalog errors that
    `execute()` keeps; a plain EXPLAIN of the (already checked, read-only) SELECT binds it again
    without running it and reports the position, one line lower.
    """
    err = sql_error(exc, text)
    if err.line is not None or kind != "SELECT" or isinstance(err, SqlCancelled):  # type: ignore[attr-defined]
        return err
    probe = "EXPLAIN\n" + text
    _rollback(cur)
    try:
        cur.execute("BEGIN TRANSACTION READ ONLY")
        cur.execute(probe)
    except duckdb.Error as again:
        err2 = sql_error(again, probe)
        line = err2.line  # type: ignore[attr-defined]
        if line and line > 1 and err2.message == err.message:  # type: ignore[attr-defined]
            return _error(SqlError, err.message, line - 1, err2.column, err2.length, text)  # type: ignore[attr-defined]
    finally:
        _rollback(cur)
    return err


# ---------------------------------------------------------------------------------------------
# Running


@dataclass
class AdhocResult:
    """The rows of one ad-hoc statement: at most `limit`, `truncated` when more existed."""

    table: pa.Table
    truncated: bool
    elapsed_ms: float
    columns: list[tuple[str, str]]  # (name, DuckDB type as text, e.g. 'DECIMAL(18,2)')


def _begin(cur: duckdb.DuckDBPyConnection, statement: str, limit: int | None) -> tuple[str, str]:
    if limit is not None and (not isinstance(limit, int) or limit < 0):
        raise SqlRefused("the row limit must be a whole number, 0 or more (None: no limit)")
    state = cur.execute(
        "SELECT current_setting('enable_external_access'), current_setting('lock_configuration'), "
        "current_setting('enable_progress_bar'), current_setting('enable_progress_bar_print')"
    ).fetchall()[0]
    if state[:2] != (False, True):
        raise SqlRefused("refused: this connection was not opened through the store (no lockdown)")
    statements = _checked(statement, cur)
    if len(statements) != 1:
        raise SqlRefused(
            "no SQL statement to run"
            if not statements
            else f"one statement at a time, not {len(statements)} (split them with guard.check)"
        )
    if state[2:] != (True, False):
        _enable_progress(cur)
    try:
        cur.execute("BEGIN TRANSACTION READ ONLY")
    except duckdb.Error as exc:
        raise _error(
            SqlError, f"cannot start a read-only transaction on this cursor: {exc}"
        ) from None
    return statements[0]


def _rollback(cur: duckdb.DuckDBPyConnection) -> None:
    with contextlib.suppress(duckdb.Error):
        cur.execute("ROLLBACK")


def _relation(cur: duckdb.DuckDBPyConnection, text: str, limit: int | None, params: Any) -> Any:
    rel = cur.sql(text) if params is None else cur.sql(text, params=params)
    if rel is None:  # pragma: no cover - every statement check() lets through returns rows
        raise _error(SqlError, "the statement returned no result")
    return rel if limit is None else rel.limit(limit + 1)


def _columns(rel: Any) -> list[tuple[str, str]]:
    return [(n, str(t)) for n, t in zip(rel.columns, rel.types, strict=True)]


def run(
    cur: duckdb.DuckDBPyConnection, statement: str, limit: int | None, *, params: Any = None
) -> AdhocResult:
    """Run one statement (checked again here) read-only on `cur`, keeping at most `limit` rows.

    `limit=None` means no limit; `params` are bound to `$name`/`?` placeholders as in
    `cur.sql(..., params=...)`. Raises SqlRefused, SqlError or SqlCancelled.
    """
    text, kind = _begin(cur, statement, limit)
    try:
        t0 = time.perf_counter()
        try:
            rel = _relation(cur, text, limit, params)
            columns = _columns(rel)
        except duckdb.Error as exc:
            raise _positioned(cur, exc, text, kind) from None
        try:
            table = rel.to_arrow_table()
        except duckdb.Error as exc:
            raise sql_error(exc, text) from None
        elapsed = (time.perf_counter() - t0) * 1000
    finally:
        _rollback(cur)
    truncated = limit is not None and table.num_rows > limit
    if truncated:
        table = table.slice(0, limit)
    return AdhocResult(table, truncated, elapsed, columns)


class AdhocStream:
    """The rows of one ad-hoc statement as Arrow record batches, read as DuckDB produces them.

    Iterate (once) for `pyarrow.RecordBatch`es of at most `batch_rows` rows, at most `limit` rows in
    all. `truncated` is final once iteration ends: True when the limit cut the result. `columns` and
    `schema` are known before the first batch. Always `close()` it (or use `with`): the read-only
    transaction stays open until then; iterating to the end closes it too.
    """

    def __init__(
        self,
        cur: duckdb.DuckDBPyConnection,
        text: str,
        kind: str,
        limit: int | None,
        batch_rows: int,
        params: Any,
    ) -> None:
        self._cur = cur
        self._text = text
        self._limit = limit
        self._t0 = time.perf_counter()
        self._closed = False
        try:
            try:
                rel = _relation(cur, text, limit, params)
                self.columns: list[tuple[str, str]] = _columns(rel)
            except duckdb.Error as exc:
                raise _positioned(cur, exc, text, kind) from None
            try:
                self._reader = rel.to_arrow_reader(batch_rows)
            except duckdb.Error as exc:
                raise sql_error(exc, text) from None
        except BaseException:
            _rollback(cur)
            raise
        self.schema: pa.Schema = self._reader.schema
        self.rows = 0
        self.truncated = False
        self.elapsed_ms = 0.0

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        try:
            while not self._closed:
                try:
                    batch = self._reader.read_next_batch()
                except StopIteration:
                    break
                except (duckdb.Error, pa.ArrowException, OSError) as exc:
                    # DuckDB errors while Arrow pulls a batch arrive as OSError ("INTERRUPT Error:
                    # Interrupted!" when cancelled) or ArrowException.
                    raise sql_error(exc, self._text) from None
                if self._limit is not None and self.rows + batch.num_rows > self._limit:
                    self.truncated = True
                    batch = batch.slice(0, self._limit - self.rows)
                    if batch.num_rows:
                        self.rows += batch.num_rows
                        yield batch
                    break
                self.rows += batch.num_rows
                yield batch
        finally:
            self.close()

    def close(self) -> None:
        """End the stream and roll back its transaction (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self.elapsed_ms = (time.perf_counter() - self._t0) * 1000
        with contextlib.suppress(Exception):
            self._reader.close()
        _rollback(self._cur)

    def __enter__(self) -> AdhocStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def stream(
    cur: duckdb.DuckDBPyConnection,
    statement: str,
    limit: int | None,
    *,
    batch_rows: int = 65_536,
    params: Any = None,
) -> AdhocStream:
    """Start one statement (checked again here) read-only on `cur` and stream its rows.

    See AdhocStream. `limit=None` means no limit. Raises SqlRefused, SqlError or SqlCancelled.
    """
    text, kind = _begin(cur, statement, limit)
    return AdhocStream(cur, text, kind, limit, batch_rows, params)
