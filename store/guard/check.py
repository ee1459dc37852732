"""Layer 1: parse ad-hoc SQL with DuckDB itself and refuse anything but reads of this database.

The text is split into statements on DuckDB's own tokens (a `;` inside a string or comment is not a
separator), and each statement is bounded (policy.Bounds) and looked at by its leading words before
DuckDB parses it: since 1.5, parsing `IMPORT DATABASE` reads the export's files and a PRAGMA is
rewritten into the SELECT it stands for, so those are decided on the text. Then `extract_statements`
gives each statement's kind; only SELECT (with DESCRIBE/SHOW/SUMMARIZE), EXPLAIN [ANALYZE] of a
SELECT and a short list of read-only PRAGMAs pass. Each SELECT's syntax tree (`json_serialize_sql`)
is walked: data-modifying CTEs, functions that run SQL, read files (also by a path-like argument to
a table function), touch sequences, secrets, settings or logs, tables named like files
(replacement scans: `FROM '/etc/passwd'`) and constant sizes above the value cap are refused.
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any

import duckdb

from ecotop.store.errors import SqlError, SqlRefused
from ecotop.store.guard.errors import refuse, shift, sql_error
from ecotop.store.guard.errors import tokens as _tokens
from ecotop.store.guard.policy import (
    _FILE_EXTENSIONS,
    _KIND_REASONS,
    _PATHLIKE,
    _QUERY_NODES,
    _TABLE_REFS,
    BOUNDS,
    DENIED_FUNCTIONS,
    READ_ONLY_PRAGMAS,
    SIZED_FUNCTIONS,
    TABLE_ONLY_DENIED,
    lockdown,
)

__all__ = ["check", "checked"]

_refuse = refuse
_parser_lock = threading.Lock()
_parser: duckdb.DuckDBPyConnection | None = None


def _parser_con() -> duckdb.DuckDBPyConnection:
    global _parser
    if _parser is None:
        con = duckdb.connect(":memory:", config={"threads": 1})
        lockdown(con)
        _parser = con
    return _parser


def check(sql: str, cur: duckdb.DuckDBPyConnection | None = None) -> list[str]:
    """Split `sql` into statements and return them if every one may run as ad-hoc SQL.

    Raises SqlRefused (naming the first statement refused and why) or SqlError (a syntax error, with
    its position in `sql`). Empty or comment-only text gives []. The statements are verbatim,
    consecutive slices of `sql` (each with its trailing `;`), in order. With `cur`, parsing runs on
    that cursor (it invalidates an open result there) and schema-qualified table names must exist in
    its catalog; without, a private in-memory DuckDB parses.
    """
    return [text for text, _ in checked(sql, cur)]


def checked(sql: str, cur: duckdb.DuckDBPyConnection | None) -> list[tuple[str, str]]:
    """`check`, with each statement's kind (SELECT, EXPLAIN or PRAGMA)."""
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


def _split(sql: str) -> list[tuple[int, int]]:
    """(start, end) of each statement: consecutive slices covering `sql`, each holding a token.

    A slice without a token (`;;`, a trailing comment) joins the statement before it (or after it,
    at the start), so the slices still add up to `sql`.
    """
    pieces: list[tuple[int, int, bool]] = []
    start, seen = 0, False
    for pos, kind in _tokens(sql):
        if kind == duckdb.token_type.operator and sql[pos] == ";":
            pieces.append((start, pos + 1, seen))
            start, seen = pos + 1, False
        else:
            seen = True
    pieces.append((start, len(sql), seen))
    out: list[tuple[int, int]] = []
    pending: int | None = None
    for s, e, seen in pieces:
        if not seen:
            if out:
                out[-1] = (out[-1][0], e)
            elif pending is None:
                pending = s
            continue
        out.append((s if pending is None else pending, e))
        pending = None
    return out


def _words(text: str, n: int = 3) -> list[str]:
    """The first `n` tokens of a statement (upper case), skipping leading `;`."""
    words: list[str] = []
    for pos, kind in _tokens(text):
        token = text[pos:]
        if kind == duckdb.token_type.operator and token.startswith(";") and not words:
            continue
        m = re.match(r"[A-Za-z_][A-Za-z0-9_]*|.", token)
        words.append(m.group(0).upper() if m else "")
        if len(words) >= n:
            break
    return words


def _bounds_problem(text: str) -> str | None:
    if len(text) > BOUNDS.max_chars:
        return f"longer than {BOUNDS.max_chars:,} characters (ECOTOP_SQL_MAX_CHARS)"
    depth = deepest = set_ops = 0
    for pos, kind in _tokens(text):
        ch = text[pos]
        if kind == duckdb.token_type.operator:
            if ch == "(":
                depth += 1
                deepest = max(deepest, depth)
            elif ch == ")":
                depth -= 1
        elif kind == duckdb.token_type.keyword and _SET_OP.match(text, pos):
            set_ops += 1
    if deepest > BOUNDS.max_depth:
        return f"nested too deeply for the guard to check (over {BOUNDS.max_depth} levels)"
    if set_ops > BOUNDS.max_set_ops:
        return f"chains more than {BOUNDS.max_set_ops:,} UNION/EXCEPT/INTERSECT (ECOTOP_SQL_MAX_SET_OPS)"
    return None


_DML_WORDS = ("INSERT", "UPDATE", "DELETE")
_SET_OP = re.compile(r"(?i)(UNION|EXCEPT|INTERSECT)\b")


def _check(
    con: duckdb.DuckDBPyConnection, sql: str, catalog: _Catalog | None
) -> list[tuple[str, str]]:
    if not isinstance(sql, str):
        raise SqlRefused("ad-hoc SQL must be text")
    out: list[tuple[str, str]] = []
    for index, (start, end) in enumerate(_split(sql), 1):
        text = sql[start:end]
        try:
            kind = _check_one(con, index, text, catalog)
        except SqlRefused:
            raise
        except SqlError as err:
            raise shift(err, sql, start) from None
        out.append((text, kind))
    return out


def _check_one(
    con: duckdb.DuckDBPyConnection, index: int, text: str, catalog: _Catalog | None
) -> str:
    """The statement's kind, or SqlRefused / SqlError (positioned in `text`)."""
    problem = _bounds_problem(text)
    if problem:
        raise _refuse(index, text, problem)
    words = _words(text)
    if words[:1] == ["IMPORT"] or words == ["COPY", "FROM", "DATABASE"]:
        raise _refuse(index, text, "imports or copies a database")
    if words[:1] == ["PRAGMA"]:
        name = _pragma_name(text)
        if name is not None and name.endswith(" = ..."):
            raise _refuse(index, text, "changes a setting")
        if name not in READ_ONLY_PRAGMAS:
            raise _refuse(index, text, f"PRAGMA {name} is not a read-only pragma")
    try:
        statements = con.extract_statements(text)
    except duckdb.Error as exc:
        message = str(exc)
        if "A CTE needs a SELECT" in message:  # DuckDB 1.5 does not parse writes inside WITH
            verb = next((w for w in _upper_words(text) if w in _DML_WORDS), "write")
            raise _refuse(index, text, f"a {verb} inside the query changes data") from None
        if "expression depth" in message:
            raise _refuse(index, text, "nested too deeply for the guard to check") from None
        raise sql_error(exc, text) from None
    if not statements:
        raise _refuse(index, text, "a statement the guard cannot read")
    if len(statements) != 1:
        raise _refuse(index, text, _KIND_REASONS["MULTI"])
    if words[:1] == ["PRAGMA"]:
        return "PRAGMA"  # a read-only pragma (DuckDB gives the SELECT it stands for)
    kind = _kind(statements[0])
    _check_statement(con, index, text, kind, catalog)
    return kind


def _upper_words(text: str) -> list[str]:
    return [
        text[pos:].split(None, 1)[0].upper()
        for pos, kind in _tokens(text)
        if kind == duckdb.token_type.keyword
    ]


def _kind(statement: Any) -> str:
    try:
        name = str(statement.type.name)
    except ValueError:  # a kind the Python client does not know (e.g. UPDATE EXTENSIONS)
        return "UNKNOWN"
    return name if re.fullmatch(r"[A-Z_]+", name) else "UNKNOWN"


def _check_statement(
    con: duckdb.DuckDBPyConnection, index: int, text: str, kind: str, catalog: _Catalog | None
) -> None:
    if kind == "SELECT":
        _check_select(con, index, text, text, catalog)
    elif kind == "EXPLAIN":
        inner = _after_explain(text)
        if inner is None:
            raise _refuse(index, text, "EXPLAIN of something the guard cannot read")
        first = _words(inner, 1)
        if first and first[0] in ("PRAGMA", "IMPORT", "COPY"):
            raise _refuse(index, text, f"EXPLAIN of {first[0]}: only a SELECT may be explained")
        try:
            inner_statements = con.extract_statements(inner)
        except duckdb.Error:
            raise _refuse(index, text, "EXPLAIN of something the guard cannot read") from None
        if len(inner_statements) != 1 or _kind(inner_statements[0]) != "SELECT":
            what = _kind(inner_statements[0]) if inner_statements else "nothing"
            raise _refuse(index, text, f"EXPLAIN of {what}: only a SELECT may be explained")
        _check_select(con, index, text, inner, catalog)
    else:
        raise _refuse(index, text, _KIND_REASONS.get(kind, f"{kind} is not a read-only statement"))


def _after_explain(text: str) -> str | None:
    """The statement an EXPLAIN explains: what follows EXPLAIN [ANALYZE] [(options)]."""
    tokens = _tokens(text)
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
    tokens = _tokens(text)
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
        if kind == "TABLE_FUNCTION":
            problem = _table_function_problem(node)
            if problem:
                return problem
        if kind == "SHOW_REF" and node.get("show_type") == "SHOW":
            name = node.get("table_name") or ""
            if _PATHLIKE.search(name):
                return f"names the file {name!r}; reading files is not allowed"
    fn = node.get("function_name")
    if isinstance(fn, str):
        name = fn.lower()
        if name in TABLE_ONLY_DENIED:
            return None  # the aggregate; its table form is refused at its TABLE_FUNCTION node
        if name in DENIED_FUNCTIONS or name.startswith("__internal"):
            reason = DENIED_FUNCTIONS.get(name, "is internal to DuckDB")
            return f"calls {name}(), which {reason}"
        if name in SIZED_FUNCTIONS:
            return _size_problem(name, node)
    return None


def _constants(node: dict[str, Any]) -> list[Any]:
    """The constant values among a function node's direct arguments (None for the others)."""
    out: list[Any] = []
    for child in node.get("children") or []:
        value = child.get("value") if isinstance(child, dict) else None
        if isinstance(child, dict) and child.get("class") == "CONSTANT" and isinstance(value, dict):
            out.append(None if value.get("is_null") else value.get("value"))
        else:
            out.append(None)
    return out


def _size_problem(name: str, node: dict[str, Any]) -> str | None:
    args = _constants(node)
    at = SIZED_FUNCTIONS[name]
    size = args[at] if at < len(args) else None
    try:
        n = int(size) if size is not None else 0
    except (TypeError, ValueError):
        return None
    if n > BOUNDS.max_value_bytes:
        return (
            f"asks {name}() for {n:,} (over {BOUNDS.max_value_bytes:,}, ECOTOP_SQL_MAX_VALUE_BYTES); "
            "one value that large is not bounded by the memory limit"
        )
    return None


_PATH_ARG = re.compile(
    r"^(~|\.{1,2}/|/)|[/\\]|://|\.(?:csv|tsv|json|ndjson|jsonl|parquet|txt|db|duckdb)$", re.I
)


# Table functions whose text arguments are data, never names.
_TEXT_TABLE_FUNCTIONS = frozenset({"json_each", "json_tree", "unnest"})


def _table_function_problem(node: dict[str, Any]) -> str | None:
    fn = node.get("function")
    if not isinstance(fn, dict):
        return None
    name = str(fn.get("function_name") or "").lower()
    if name in TABLE_ONLY_DENIED:
        return f"calls {name}() as a table, which {DENIED_FUNCTIONS[name]}"
    if name in _TEXT_TABLE_FUNCTIONS or name in DENIED_FUNCTIONS:
        return None  # denied ones are named with their own reason at their function node
    for value in _constants(fn):
        if isinstance(value, str) and _PATH_ARG.search(value):
            return f"passes {value[:60]!r} to {name}(), which looks like a path; reading files is not allowed"
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
