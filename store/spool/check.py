"""Typing and checking a parsed file kind by kind, vectorised: pyarrow casts and masks first
(`arrow_stage`), and where anything is off DuckDB's TRY_CAST checks over the registered Arrow data
(`stage_sql`) name the line and field of every problem. Also the per-file checks that need no
database: values of other kinds' fields, keys created twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from ecotop.store.spool.read import Parsed, split_by_kind
from ecotop.store.spool.results import (
    _SEP,
    _SEP_SQL,
    MAX_PROBLEMS,
    Problem,
    Rejected,
    _q,
    _sql_str,
)
from ecotop.store.spool_format import (
    INT,
    KINDS,
    TEXT,
    TS,
    Kind,
    resolve,
)

# -- typing and checking one kind --------------------------------------------------------------------


def _cast(name: str, target: str, src: pa.DataType | None) -> tuple[str, list[tuple[str, str]]]:
    """SQL of a field's typed value from source column r.<name>, and (bad-when, message) checks."""
    if src is None:
        return f"NULL::{target}", []
    x = f"r.{_q(name)}"
    shown = f"left({x}::VARCHAR, 40)"
    text = pa.types.is_string(src) or pa.types.is_large_string(src)
    if pa.types.is_dictionary(src):
        text = pa.types.is_string(src.value_type) or pa.types.is_large_string(src.value_type)
    if not text and (pa.types.is_nested(src) or pa.types.is_binary(src)):
        return f"NULL::{target}", [(f"{x} IS NOT NULL", f"'wrong type ({src})'")]
    if not text and pa.types.is_boolean(src) and target != "BOOLEAN":
        return f"NULL::{target}", [(f"{x} IS NOT NULL", "'wrong type (true/false)'")]
    if target == TEXT:
        return f"{x}::VARCHAR", []
    if target == TS:
        if pa.types.is_timestamp(src) and src.tz is None:
            return f"NULL::{TS}", [
                (f"{x} IS NOT NULL", "'a timestamp without time zone; write UTC instants'")
            ]
        if pa.types.is_timestamp(src):
            return f"{x}::TIMESTAMPTZ", []
        if not text:
            return f"NULL::{TS}", [(f"{x} IS NOT NULL", f"'not a timestamp: ' || {shown}")]
        v = f"TRY_CAST({x} AS TIMESTAMPTZ)"
        return v, [
            (f"{x} IS NOT NULL AND {v} IS NULL", f"'not a timestamp: ' || {shown}"),
            (
                f"{v} IS NOT NULL AND NOT regexp_matches({x}, '([zZ]|[+-][0-9][0-9](:?[0-9][0-9])?)$')",
                f"'no UTC offset in ' || {shown} || ' (end it with Z or +08:00)'",
            ),
        ]
    if target in ("BIGINT", INT):
        if pa.types.is_integer(src):
            if target == "BIGINT" and src.bit_width <= 64 and src != pa.uint64():
                return f"{x}::BIGINT", []
            v = f"TRY_CAST({x} AS {target})"
            return v, [(f"{x} IS NOT NULL AND {v} IS NULL", f"'out of range: ' || {shown}")]
        v = f"TRY_CAST({x} AS {target})"
        return v, [
            (
                f"{x} IS NOT NULL AND ({v} IS NULL OR TRY_CAST({x} AS DOUBLE) <> {v})",
                f"'not an integer: ' || {shown}",
            )
        ]
    if target == "DOUBLE":
        v = f"TRY_CAST({x} AS DOUBLE)"
        return v, [
            (f"{x} IS NOT NULL AND {v} IS NULL", f"'not a number: ' || {shown}"),
            (f"isnan({v}) OR isinf({v})", "'not a finite number'"),
        ]
    if target.startswith("DECIMAL"):
        if pa.types.is_decimal(src) and src.scale <= 2 and src.precision - src.scale <= 16:
            return f"{x}::{target}", []
        v = f"TRY_CAST({x} AS {target})"
        fine = f"TRY_CAST({x} AS DECIMAL(38,9))"
        return v, [
            (
                f"{x} IS NOT NULL AND ({v} IS NULL OR {fine} IS NULL)",
                f"'not an amount: ' || {shown}",
            ),
            (f"{fine} <> {v}", f"'more than 2 decimal places: ' || {shown}"),
        ]
    if target == "BOOLEAN":
        if pa.types.is_boolean(src):
            return x, []
        v = f"TRY_CAST({x} AS BOOLEAN)"
        return v, [(f"{x} IS NOT NULL AND {v} IS NULL", f"'not true or false: ' || {shown}")]
    raise AssertionError(target)


def _problems_sql(checks: list[tuple[str, str, str]]) -> str:
    """SQL: every failed check of a row as 'field|message', joined by chr(30); NULL if none."""
    if not checks:
        return "NULL::VARCHAR"
    parts = [
        f"CASE WHEN {bad} THEN {_sql_str(fld + '|')} || ({msg}) END" for bad, fld, msg in checks
    ]
    # Messages are built only for the rows that fail a check (CASE evaluates THEN on those only).
    anyfail = " OR ".join(f"({bad})" for bad, _, _ in checks)
    return f"CASE WHEN {anyfail} THEN concat_ws({_SEP_SQL}, {', '.join(parts)}) END"


def stage_sql(kind: Kind, source: str, types: dict[str, pa.DataType]) -> str:
    """SELECT of one kind's rows from relation `source` (line + field columns of types `types`):
    typed columns named as the table's, and `_problem` (NULL for a good row)."""
    inner, first = ["r.line"], []
    for f in kind.fields:
        v, checks = _cast(f.name, f.type, types.get(f.name))
        inner.append(f"{v} AS {_q(f.col)}")
        if f.required:
            src = f"r.{_q(f.name)}" if f.name in types else "NULL"
            first.append((f"{src} IS NULL", f.name, "'missing'"))
        first += [(bad, f.name, msg) for bad, msg in checks]
    second = []  # checks of typed values, in an outer query over the inner one (t.<col>)
    for f in kind.fields:
        t = f"t.{_q(f.col)}"
        if f.enum:
            label = f"must be one of {', '.join(f.enum)}, not "
            second.append(
                (
                    f"{t} NOT IN ({', '.join(map(_sql_str, f.enum))})",
                    f.name,
                    f"{_sql_str(label)} || {t}",
                )
            )
        if f.nonneg:
            second.append((f"{t} < 0", f.name, "'must not be negative'"))
    for c in kind.checks:
        sql = c.sql.format(**{f.name: f"t.{_q(f.col)}" for f in kind.fields})
        second.append((sql, c.field, _sql_str(c.message)))
    cols = ", ".join(f"t.{_q(f.col)}" for f in kind.fields)
    p2 = _problems_sql(second)
    return (
        f"SELECT t.line, {cols}, CASE WHEN t._p1 IS NULL THEN {p2} "
        f"ELSE concat_ws({_SEP_SQL}, t._p1, {p2}) END AS _problem FROM ("
        f"SELECT {', '.join(inner)}, {_problems_sql(first)} AS _p1 FROM {source} r) t"
    )


def _json_spec(kind: Kind) -> str:
    return _sql_str(json.dumps({f.name: "VARCHAR" for f in kind.fields}))


def _rows_problems(t: pa.Table, column: str = "_problem") -> tuple[list[Problem], int]:
    """The problems of a staged table's problem column (first MAX_PROBLEMS rows) and bad-row count."""
    col = t.column(column)
    if col.null_count == len(col):
        return [], 0
    bad = t.filter(pc.is_valid(col))
    out = []
    lines = bad.column("line").to_pylist()[:MAX_PROBLEMS]
    for line, p in zip(lines, bad.column(column).to_pylist()[:MAX_PROBLEMS], strict=True):
        for one in p.split(_SEP):
            fld, msg = one.split("|", 1)
            out.append(Problem(line, fld, msg))
    return out, bad.num_rows


def stage(parsed: Parsed, cur: duckdb.DuckDBPyConnection) -> dict[str, pa.Table]:
    """Every kind of a parsed file typed in Arrow: {kind: table with `line` and the table's columns}.

    Typed columns in, typed columns out: pyarrow casts and checks each kind (no SQL to plan); when
    anything is off, the kind goes through DuckDB's TRY_CAST checks on `cur`, which name the line
    and field of every problem and decide (NDJSON that needed the line-by-line reader always goes
    that way). Raises Rejected with every problem found.
    """
    groups: dict[str, list[pa.Table]] = {}
    problems: list[Problem] = []
    for raw_kind, part in split_by_kind(parsed.table):
        first = part.column("line")[0].as_py()
        k = resolve(raw_kind) if raw_kind is not None else None
        if k is None:
            why = (
                "missing (name the file <kind>-*.<ext> or give each row a kind)"
                if raw_kind is None
                else f"unknown event kind {raw_kind!r}"
            )
            problems.append(Problem(first, "kind", why))
        else:
            groups.setdefault(k, []).append(part)
    if problems:
        raise Rejected(problems)
    total = 0
    out: dict[str, pa.Table] = {}
    for k, parts in groups.items():
        kind = KINDS[k]
        part = parts[0] if len(parts) == 1 else pa.concat_tables(parts)
        typed = None
        if not parsed.json:
            problems += _foreign_values(kind, part)
            typed = arrow_stage(kind, part)
        if typed is None:
            typed, found, n_bad = _duckdb_stage(cur, kind, part, parsed.json)
            problems += found
            total += n_bad
            if found:
                continue
        if kind.key and not kind.update:
            problems += _duplicate_keys(kind, typed)
        out[k] = typed
    if problems:
        raise Rejected(problems, total)
    return out


def _duckdb_stage(
    cur: duckdb.DuckDBPyConnection, kind: Kind, part: pa.Table, json_lines: bool
) -> tuple[pa.Table, list[Problem], int]:
    """Type one kind's rows with DuckDB's TRY_CAST checks: (typed, problems, bad rows)."""
    if json_lines:
        w = part.select(["line", "text"])
        source = f"(SELECT line, unnest(json_transform(text, {_json_spec(kind)})) FROM _w)"
        types = {f.name: pa.string() for f in kind.fields}
    else:
        names = [n for n in kind.field_names if n in part.column_names]
        w = part.select(["line", *names])
        source = "_w"
        types = {n: part.schema.field(n).type for n in names}
    cur.register("_w", w)
    try:
        typed = cur.sql(stage_sql(kind, source, types)).to_arrow_table()
    finally:
        cur.unregister("_w")
    found, n_bad = _rows_problems(typed)
    return typed.drop_columns(["_problem"]), found, n_bad


_ARROW_TYPES = {
    "TIMESTAMPTZ": pa.timestamp("us", tz="UTC"),
    "BIGINT": pa.int64(),
    "INTEGER": pa.int32(),
    "DECIMAL(18,2)": pa.decimal128(18, 2),
    "DOUBLE": pa.float64(),
    "BOOLEAN": pa.bool_(),
    "VARCHAR": pa.string(),
}


def _arrow_cast(arr: Any, target: pa.DataType) -> Any:
    """`arr` as `target`, or None unless that is exact (then DuckDB's checks decide)."""
    src = arr.type
    if src == target:
        return arr
    if pa.types.is_dictionary(src):
        arr = arr.cast(src.value_type)
        src = arr.type
    if pa.types.is_nested(src) or pa.types.is_binary(src) or pa.types.is_null(src):
        return None if arr.null_count < len(arr) else pa.nulls(len(arr), target)
    if pa.types.is_boolean(src) != pa.types.is_boolean(target):
        return None
    if pa.types.is_timestamp(target) and pa.types.is_timestamp(src) and src.tz is None:
        return None  # a naive instant is rejected, not guessed
    if pa.types.is_string(target) and not (
        pa.types.is_string(src) or pa.types.is_large_string(src)
    ):
        return None  # DuckDB decides how to show a number as text
    try:
        out = arr.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return None
    if pa.types.is_decimal(target) and pa.types.is_floating(src):
        # float -> decimal rounds: 12.345 must be refused, not become 12.35
        back = pc.cast(out, pa.float64())
        if not pc.all(pc.equal(back, arr)).as_py():
            return None
    return out


def arrow_stage(kind: Kind, part: pa.Table) -> pa.Table | None:
    """One kind's rows typed with pyarrow (columns named as the table's, plus `line`), or None
    when a value needs a cast pyarrow will not do exactly, or any check fails."""
    n = part.num_rows
    cols: dict[str, Any] = {}
    for f in kind.fields:
        target = _ARROW_TYPES[f.type]
        if f.name not in part.column_names:
            if f.required:
                return None
            cols[f.name] = pa.nulls(n, target)
            continue
        arr = _arrow_cast(part.column(f.name), target)
        if arr is None or (f.required and arr.null_count):
            return None
        if pa.types.is_floating(target) and pc.any(pc.invert(pc.is_finite(arr))).as_py():
            return None
        if f.enum and not pc.all(pc.is_in(arr, value_set=pa.array(f.enum))).as_py():
            return None
        if f.nonneg and pc.any(pc.less(arr, 0)).as_py():
            return None
        cols[f.name] = arr
    for c in kind.checks:
        if pc.any(c.arrow(cols)).as_py():
            return None
    return pa.Table.from_arrays(
        [part.column("line"), *(cols[f.name] for f in kind.fields)],
        names=["line", *(f.col for f in kind.fields)],
    )


def _says(what: str, message: str) -> Callable[[Any], str]:
    """The problem text for a value: '<what> <value> <message>'."""

    def text(v: Any) -> str:
        return f"{what} {v} {message}"

    return text


def _masked(
    t: pa.Table, mask: Any, field_name: str, message: Callable[[Any], str], col: str
) -> list[Problem]:
    """Problems for the first rows of `t` where `mask` is true."""
    idx = pc.indices_nonzero(pc.fill_null(mask, False)).slice(0, MAX_PROBLEMS)
    lines = pc.take(t.column("line"), idx).to_pylist()
    vals = pc.take(t.column(col), idx).to_pylist()
    return [Problem(n, field_name, message(v)) for n, v in zip(lines, vals, strict=True)]


def _foreign_values(kind: Kind, part: pa.Table) -> list[Problem]:
    """Values in columns that belong to other kinds, in rows of `kind` (a wide CSV or Parquet)."""
    out = []
    mine = set(kind.field_names)
    for name in part.column_names:
        if name in mine or name in ("kind", "line"):
            continue
        col = part.column(name)
        if col.null_count < len(col):
            i = pc.index(pc.is_valid(col), True).as_py()
            out.append(
                Problem(part.column("line")[i].as_py(), name, f"not a field of kind {kind.name}")
            )
    return out


def _duplicate_keys(kind: Kind, typed: pa.Table) -> list[Problem]:
    """Rows creating a key that an earlier row of the same file already created."""
    assert kind.key is not None
    col = typed.column(kind.get(kind.key).col)
    if pc.count_distinct(col).as_py() == len(col):
        return []
    lines = typed.column("line").to_pylist()
    seen: dict[Any, int] = {}
    out = []
    for line, v in zip(lines, col.to_pylist(), strict=True):
        if v in seen:
            out.append(
                Problem(line, kind.key, f"{v} appears twice in this file (also line {seen[v]})")
            )
            if len(out) >= MAX_PROBLEMS:
                break
        else:
            seen[v] = line
    return out
