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
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from ecotop.store import rollups
from ecotop.store.errors import StoreError
from ecotop.store.spool_format import (
    ALIASES,
    ENTITIES,
    FIELD_TYPES,
    INSERT_ORDER,
    INT,
    KINDS,
    TEXT,
    TS,
    Kind,
    resolve,
)

FORMATS = {".ndjson": "ndjson", ".jsonl": "ndjson", ".csv": "csv", ".parquet": "parquet"}
MAX_PROBLEMS = 20
DEFAULT_WAL_LIMIT = 64 * 1024 * 1024
# Caps on what one spool file may ask of memory (#15.16): a 100 MB single line took 1.2 GB to parse.
# The defaults leave room for 1M-event NDJSON (~300-600 MB, lines under 4 KB) and Parquet files.
DEFAULT_MAX_LINE = 16 * 2**20
DEFAULT_MAX_FILE = 2 * 2**30


def _env_bytes(name: str, default: int) -> int:
    text = os.environ.get(name, "").strip().upper().removesuffix("B").removesuffix("I")
    units = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
    try:
        if text and text[-1] in units:
            return max(1, int(float(text[:-1]) * units[text[-1]]))
        return max(1, int(text)) if text else default
    except ValueError:
        return default


def max_line_bytes() -> int:
    """The longest NDJSON or CSV line a spool file may hold (ECOTOP_SPOOL_MAX_LINE, 16MB)."""
    return _env_bytes("ECOTOP_SPOOL_MAX_LINE", DEFAULT_MAX_LINE)


def max_file_bytes() -> int:
    """The largest spool file ingested (ECOTOP_SPOOL_MAX_FILE, 2GB)."""
    return _env_bytes("ECOTOP_SPOOL_MAX_FILE", DEFAULT_MAX_FILE)


def _long_line(raw: bytes, limit: int) -> tuple[int, int] | None:
    """(1-based line number, length) of the first line longer than `limit` bytes, or None.

    Jumps a window of `limit` bytes at a time to its last newline: ~size/limit steps, so a
    300 MB file costs a few dozen finds, not a Python step per line.
    """
    start = 0
    while len(raw) - start > limit:
        end = raw.rfind(b"\n", start, start + limit + 1)
        if end < 0:
            nxt = raw.find(b"\n", start)
            return raw.count(b"\n", 0, start) + 1, (nxt if nxt >= 0 else len(raw)) - start
        start = end + 1
    return None


# Up to this many ids, look them up through the primary-key index (DuckDB turns an IN list of
# constants into an index scan up to its index_scan_max_count, 2048) instead of scanning the table.
INDEX_LOOKUP_MAX = 2048
_SEP = "\x1e"  # between the problems of one row
_SEP_SQL = "chr(30)"

assert sorted(INSERT_ORDER) == sorted(k for k, v in KINDS.items() if not v.update)


# -- results and problems --------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """Why a file is rejected: a line (row for Parquet; 0 = the whole file), a field and a message."""

    line: int
    field: str
    message: str

    def text(self, unit: str = "line") -> str:
        where = f"{unit} {self.line}" if self.line > 0 else "file"
        if self.field:
            return f"{where}, field {self.field}: {self.message}"
        return f"{where}: {self.message}"


class Rejected(Exception):
    """The file cannot be loaded; `problems` say where and why (`total` counts them all)."""

    def __init__(self, problems: list[Problem], total: int | None = None, unit: str = "line"):
        problems = sorted(problems, key=lambda p: p.line)
        super().__init__(problems[0].text(unit) if problems else "rejected")
        self.problems = problems[:MAX_PROBLEMS]
        self.total = max(total or 0, len(problems))
        self.unit = unit


@dataclass
class FileResult:
    """What happened to one spool file."""

    name: str
    outcome: str  # ingested | duplicate | rejected
    rows: int = 0
    size: int = 0
    checksum: str = ""
    kinds: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    total_problems: int = 0
    unit: str = "line"
    elapsed_s: float = 0.0
    moved_to: Path | None = None


# -- SQL text helpers (identifiers and constants of our own, never values from files) -------------


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _sql_list(items: Iterable[str]) -> str:
    return "[" + ", ".join(_sql_str(i) for i in items) + "]"


def _int_list(ids: Iterable[int]) -> str:
    """A SQL list of integer constants (ids read back from typed BIGINT columns, never text)."""
    return ", ".join(str(int(i)) for i in ids) or "NULL"


# -- reading files ---------------------------------------------------------------------------------


@dataclass
class Parsed:
    """A file's rows as one Arrow table with `line` (int64) and `kind` (string, null if absent).

    NDJSON keeps each line's `text` (typed per kind later); CSV and Parquet have field columns.
    """

    table: pa.Table
    unit: str  # "line" or "row"
    json: bool = False


def _split_lines(raw: bytes) -> pa.Table:
    """Physical lines of `raw` as (line, text); blank lines dropped, line numbers kept."""
    parts = pc.split_pattern(pa.array([raw], pa.large_binary()), "\n").flatten()
    n = len(parts)
    if n and raw.endswith(b"\n"):
        parts = parts.slice(0, n - 1)
        n -= 1
    try:
        text = parts.cast(pa.large_string())
    except pa.ArrowInvalid:
        for i, b in enumerate(raw.split(b"\n"), 1):
            try:
                b.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise Rejected([Problem(i, "", f"not UTF-8 text ({exc.reason})")]) from None
        raise
    t = pa.table({"line": pa.array(range(1, n + 1), pa.int64()), "text": text})
    blank = pc.equal(pc.utf8_trim_whitespace(text), "")
    if pc.any(blank).as_py():
        t = t.filter(pc.invert(blank))
    return t


def _allowed_keys_sql(kind_expr: str) -> str:
    """SQL: the list of keys a line of the kind `kind_expr` may have (NULL for an unknown kind)."""
    whens = []
    for name, k in KINDS.items():
        names = [name] + [a for a, c in ALIASES.items() if c == name]
        keys = _sql_list(["kind", *k.field_names])
        whens.append(f"WHEN {kind_expr} IN ({', '.join(_sql_str(n) for n in names)}) THEN {keys}")
    return "CASE " + " ".join(whens) + " END"


def parse_ndjson(cur: duckdb.DuckDBPyConnection, raw: bytes, name_kind: str | None) -> Parsed:
    """NDJSON: one JSON object per line. Keys are checked here; values are typed per kind later."""
    lines = _split_lines(raw)
    cur.register("_spool_lines", lines)
    kind = "json_extract_string(text, '$.kind')"
    if name_kind is not None:
        kind = f"coalesce({kind}, {_sql_str(name_kind)})"
    try:
        q = f"""
            WITH p AS (SELECT line, text, {kind} AS kind, json_keys(text) AS _k FROM _spool_lines)
            SELECT line, kind, text,
              CASE
                WHEN len(_k) = 0 THEN CASE WHEN json_type(text) = 'OBJECT' THEN '|empty object'
                                           ELSE '|not a JSON object' END
                WHEN len(_k) <> len(list_distinct(_k)) THEN '|a field appears twice'
                ELSE list_filter(_k, lambda x: NOT list_contains({_allowed_keys_sql("kind")}, x))[1]
                     || '|?'
              END AS _json_problem
            FROM p
        """
        try:
            t = cur.sql(q).to_arrow_table()
        except duckdb.InvalidInputException:
            bad = cur.execute(
                "SELECT line, left(text, 60) FROM _spool_lines WHERE NOT json_valid(text) "
                f"ORDER BY line LIMIT {MAX_PROBLEMS}"
            ).fetchall()
            if not bad:
                raise
            total = cur.execute(
                "SELECT count(*) FROM _spool_lines WHERE NOT json_valid(text)"
            ).fetchall()[0][0]
            raise Rejected(
                [Problem(n, "", f"malformed JSON: {s!r}") for n, s in bad], total
            ) from None
    finally:
        cur.unregister("_spool_lines")
    jp = t.column("_json_problem")
    if jp.null_count < len(jp):
        bad = t.filter(pc.is_valid(jp))
        problems = []
        for line, k, p in zip(
            bad.column("line").to_pylist()[:MAX_PROBLEMS],
            bad.column("kind").to_pylist()[:MAX_PROBLEMS],
            bad.column("_json_problem").to_pylist()[:MAX_PROBLEMS],
            strict=True,
        ):
            fld, msg = p.split("|", 1)
            if msg == "?":
                msg = f"not a field of kind {k}" if fld in FIELD_TYPES else "unknown field"
            problems.append(Problem(line, fld, msg))
        raise Rejected(problems, bad.num_rows)
    return Parsed(t.drop_columns(["_json_problem"]), "line", json=True)


def parse_csv(raw: bytes) -> Parsed:
    """CSV with a header line; every value is read as text (empty = missing) and typed later."""
    import csv

    import pyarrow.csv as pacsv

    head = raw.split(b"\n", 1)[0].decode("utf-8", "replace").rstrip("\r")
    names = next(csv.reader([head]), [])
    if not names or not any(n.strip() for n in names):
        raise Rejected([Problem(1, "", "no header line")])
    bad_rows: list[Problem] = []

    def on_invalid(row: Any) -> str:
        bad_rows.append(
            Problem(
                row.number or 0,
                "",
                f"expected {row.expected_columns} values, found {row.actual_columns}",
            )
        )
        return "skip"

    try:
        t = pacsv.read_csv(
            pa.BufferReader(raw),
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names},
                strings_can_be_null=True,
                null_values=[""],
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        for i, b in enumerate(raw.split(b"\n"), 1):
            try:
                b.decode("utf-8")
            except UnicodeDecodeError as e:
                raise Rejected([Problem(i, "", f"not UTF-8 text ({e.reason})")]) from None
        raise Rejected([Problem(0, "", f"malformed CSV: {str(exc).splitlines()[0]}")]) from None
    if bad_rows:
        if any(p.line == 0 for p in bad_rows):  # row numbers are known only single-threaded
            bad_rows.clear()
            pacsv.read_csv(
                pa.BufferReader(raw),
                read_options=pacsv.ReadOptions(use_threads=False),
                parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid),
                convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names}),
            )
        raise Rejected(bad_rows)
    if "line" in t.column_names:
        raise Rejected([Problem(1, "line", "unknown field")])
    t = t.append_column("line", pa.array(range(2, t.num_rows + 2), pa.int64()))
    if "kind" not in t.column_names:
        t = t.append_column("kind", pa.nulls(t.num_rows, pa.string()))
    return Parsed(t, "line")


def parse_parquet(raw: bytes) -> Parsed:
    """Parquet: typed columns (timestamps must carry a time zone); rows are numbered from 1."""
    import pyarrow.parquet as pq

    try:
        t = pq.read_table(pa.BufferReader(raw))
    except (pa.ArrowInvalid, OSError) as exc:
        raise Rejected(
            [Problem(0, "", f"not a Parquet file: {str(exc).splitlines()[0]}")], unit="row"
        ) from None
    if "line" in t.column_names:
        raise Rejected([Problem(0, "line", "unknown field")], unit="row")
    t = t.append_column("line", pa.array(range(1, t.num_rows + 1), pa.int64()))
    if "kind" not in t.column_names:
        t = t.append_column("kind", pa.nulls(t.num_rows, pa.string()))
    elif not pa.types.is_string(t.schema.field("kind").type):
        try:
            i = t.schema.get_field_index("kind")
            t = t.set_column(i, "kind", t.column("kind").cast(pa.string()))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise Rejected(
                [Problem(0, "kind", "the kind column is not text")], unit="row"
            ) from None
    return Parsed(t, "row")


# Timestamps stay text in the fast NDJSON reader: pyarrow would parse "12:00" and "12:00+08:00"
# alike into naive instants, and a missing UTC offset must be rejected, not guessed.
_JSON_TEXT = pa.schema([(n, pa.string()) for n, t in FIELD_TYPES.items() if t == TS])


_JSON_THREADS = os.environ.get("ECOTOP_JSON_THREADS", "1") != "0"


def read_ndjson_fast(raw: bytes) -> pa.Table | None:
    """NDJSON through pyarrow's reader (types inferred per column), or None when the file needs
    the line-by-line path: malformed JSON, a type that changes between lines, duplicate keys,
    non-object lines, or blank lines (which would shift row numbers off line numbers)."""
    import pyarrow.json as pj

    try:
        t = pj.read_json(
            pa.BufferReader(raw),
            read_options=pj.ReadOptions(use_threads=_JSON_THREADS, block_size=4 << 20),
            parse_options=pj.ParseOptions(
                explicit_schema=_JSON_TEXT, unexpected_field_behavior="infer"
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    # pyarrow skips blank lines: then rows are not lines, and the line-by-line reader numbers them.
    lines = raw.count(b"\n") + (0 if raw.endswith(b"\n") or not raw.strip() else 1)
    if t.num_rows != lines:
        return None
    # Columns the schema named but no line has are all-null text: drop them.
    drop = [
        n for n in _JSON_TEXT.names if n in t.column_names and t.column(n).null_count == t.num_rows
    ]
    return t.drop_columns(drop) if drop else t


def parse(cur: duckdb.DuckDBPyConnection, raw: bytes, fmt: str, name_kind: str | None) -> Parsed:
    """The rows of a file's bytes in format `fmt` (ndjson, csv, parquet); raises Rejected."""
    if fmt == "ndjson":
        t = read_ndjson_fast(raw)
        if t is None:
            return parse_ndjson(cur, raw, name_kind)
        if "line" in t.column_names or (
            "kind" in t.column_names and not pa.types.is_string(t.schema.field("kind").type)
        ):
            return parse_ndjson(cur, raw, name_kind)  # it names the line and field
        t = t.append_column("line", pa.array(range(1, t.num_rows + 1), pa.int64()))
        if "kind" not in t.column_names:
            t = t.append_column("kind", pa.nulls(t.num_rows, pa.string()))
        parsed = Parsed(t, "line")
    else:
        parsed = parse_csv(raw) if fmt == "csv" else parse_parquet(raw)
    unknown = [
        n for n in parsed.table.column_names if n not in FIELD_TYPES and n not in ("kind", "line")
    ]
    if unknown:
        raise Rejected(
            [_first_value(parsed, n, "unknown field") for n in unknown],
            unit=parsed.unit,
        )
    if name_kind is not None:
        kc = parsed.table.column("kind")
        if kc.null_count:
            i = parsed.table.schema.get_field_index("kind")
            parsed.table = parsed.table.set_column(i, "kind", pc.fill_null(kc, name_kind))
    return parsed


def _first_value(parsed: Parsed, column: str, message: str) -> Problem:
    """A problem at the first row where `column` has a value (line 1 = the CSV header if none)."""
    col = parsed.table.column(column)
    if col.null_count == len(col):
        return Problem(1 if parsed.unit == "line" else 0, column, message)
    i = pc.index(pc.is_valid(col), True).as_py()
    return Problem(parsed.table.column("line")[i].as_py(), column, message)


def split_by_kind(t: pa.Table) -> list[tuple[str | None, pa.Table]]:
    """The rows of each `kind` value (null included) as slices, in order of first line."""
    n = t.num_rows
    if n == 0:
        return []
    kc = t.column("kind").combine_chunks()
    if kc.null_count == 0:
        change = pc.not_equal(kc.slice(1), kc.slice(0, n - 1))
        runs = 1 + pc.sum(change).as_py() if n > 1 else 1
        distinct = len(pc.unique(kc))
    else:
        runs, distinct = -1, 0
    if runs != distinct:  # not grouped by kind: sort (stable, by kind then line)
        t = t.take(pc.sort_indices(t, [("kind", "ascending"), ("line", "ascending")]))
        kc = t.column("kind").combine_chunks()
    # Boundaries where the kind changes (null compares as its own value).
    starts = [0]
    if n > 1:
        filled = pc.fill_null(kc, "\x00")
        change = pc.not_equal(filled.slice(1), filled.slice(0, n - 1))
        starts += [i + 1 for i in pc.indices_nonzero(change).to_pylist()]
    ends = starts[1:] + [n]
    out = []
    for s, e in zip(starts, ends, strict=True):
        out.append((kc[s].as_py(), t.slice(s, e - s)))
    out.sort(key=lambda p: p[1].column("line")[0].as_py())
    return out


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


# -- the loader ------------------------------------------------------------------------------------


def sha256(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def file_kind(name: str) -> str | None:
    """The kind a file's name declares (`transaction-0001.csv` -> transaction), or None."""
    stem = name.split(".", 1)[0]
    return resolve(stem.split("-", 1)[0])


def file_format(name: str) -> str | None:
    """ndjson, csv or parquet from the file's extension, or None."""
    return FORMATS.get(Path(name).suffix.lower())


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


@dataclass
class Prepared:
    """A file checked as far as it can be without the database: typed rows per kind."""

    res: FileResult
    typed: dict[str, pa.Table] = field(default_factory=dict)
    unit: str = "line"
    duplicate: bool = False
    elapsed_s: float = 0.0


class Loader:
    """Loads spool files into an open writable database on one cursor (one thread).

    `load(name, raw)` does everything for one file except moving it; `Spool` decides where it goes.
    `timings` sums seconds per phase over files (for benchmarks).
    """

    def __init__(self, cur: duckdb.DuckDBPyConnection) -> None:
        self.cur = cur
        self._views: list[str] = []
        self._sizes: dict[str, int] | None = None
        self.typed: dict[str, pa.Table] = {}  # the file's rows per kind, typed (table column names)
        self.timings: dict[str, float] = {}
        self._tables = {
            r[0] for r in cur.execute("SELECT table_name FROM duckdb_tables()").fetchall()
        }

    def _lap(self, phase: str, t0: float) -> float:
        t = time.perf_counter()
        self.timings[phase] = self.timings.get(phase, 0.0) + (t - t0)
        return t

    # Public ------------------------------------------------------------------------------------

    def already_ingested(self, checksum: str, cur: duckdb.DuckDBPyConnection | None = None) -> bool:
        rows = (
            (cur or self.cur)
            .execute(
                "SELECT 1 FROM ingest_log WHERE checksum = $c AND outcome = 'ingested' LIMIT 1",
                {"c": checksum},
            )
            .fetchall()
        )
        return bool(rows)

    def log(self, name: str, size: int, checksum: str, rows: int, outcome: str) -> None:
        self.cur.execute(
            "INSERT INTO ingest_log VALUES ($n, $s, $c, $r, now(), $o)",
            {"n": name, "s": size, "c": checksum, "r": rows, "o": outcome},
        )

    def load(
        self, name: str, raw: bytes, *, crash: Callable[[str], None] | None = None
    ) -> FileResult:
        """Validate and load one file's bytes in one transaction (with rollups and ingest_log).

        A file whose checksum is already ingested is only logged ('duplicate'). Raises Rejected for
        bad input, having written nothing. `crash(point)` is a test hook called at
        'before_commit' and 'after_commit'.
        """
        return self.commit(self.prepare(name, raw), crash=crash)

    def prepare(
        self, name: str, raw: bytes, cur: duckdb.DuckDBPyConnection | None = None
    ) -> Prepared:
        """Everything before the database: checksum, parse, split by kind, type and check each kind.

        Touches no shared state, so it may run on another thread (with its own cursor `cur`, used
        only for NDJSON that needs the line-by-line reader and for DuckDB's checks of a kind that
        pyarrow would not type exactly) while the previous file commits. Raises Rejected.
        """
        cur = cur or self.cur
        t0 = time.perf_counter()
        prep = Prepared(FileResult(name, "ingested", size=len(raw), checksum=sha256(raw)))
        if self.already_ingested(prep.res.checksum, cur):
            prep.duplicate = True  # checked again when it commits
            return prep
        fmt = file_format(name)
        if fmt is None:
            raise Rejected(
                [
                    Problem(
                        0,
                        "",
                        f"unknown file type {Path(name).suffix!r}; "
                        "use .ndjson, .jsonl, .csv or .parquet",
                    )
                ]
            )
        unit = "row" if fmt == "parquet" else "line"
        try:
            t = self._lap("checksum", t0)
            name_kind = file_kind(name)
            parsed = parse(cur, raw, fmt, name_kind)
            t = self._lap("parse", t)
            prep.typed = stage(parsed, cur)
            self._lap("stage", t)
        except Rejected as exc:
            exc.unit = unit
            raise
        prep.res.rows = parsed.table.num_rows
        prep.res.kinds = {k: t.num_rows for k, t in prep.typed.items()}
        prep.unit = unit
        prep.elapsed_s = time.perf_counter() - t0
        return prep

    def commit(self, prep: Prepared, *, crash: Callable[[str], None] | None = None) -> FileResult:
        """Check ids against the database and load a prepared file in one transaction."""
        t0 = time.perf_counter()
        res = prep.res
        if prep.duplicate or self.already_ingested(res.checksum):
            res.outcome = "duplicate"
            self.log(res.name, res.size, res.checksum, 0, "duplicate")
            res.elapsed_s = prep.elapsed_s + time.perf_counter() - t0
            return res
        try:
            self.typed = prep.typed
            for k, typed in prep.typed.items():
                self._register(f"_s_{k}", typed)
            staged = res.kinds
            self._check_refs(staged)
            self._lap("refs", t0)
            self._write(res, staged, crash)
        except Rejected as exc:
            exc.unit = prep.unit
            raise
        finally:
            self._cleanup()
        res.elapsed_s = prep.elapsed_s + time.perf_counter() - t0
        return res

    def commit_group(
        self, preps: list[Prepared], *, crash: Callable[[str], None] | None = None
    ) -> list[FileResult]:
        """Load several prepared files in ONE transaction, as if one file: their rows per kind
        concatenated in file order (lines offset so that each file's lines follow the previous
        file's), checked once, written once, with one `ingest_log` row per file.

        All or nothing: raises Rejected (or the database's error) having written nothing, and the
        caller then loads the files one by one, so that a bad file is rejected on its own."""
        t0 = time.perf_counter()
        if any(p.duplicate or self.already_ingested(p.res.checksum) for p in preps):
            raise Rejected([Problem(0, "", "a file of the group is already ingested")])
        merged: dict[str, list[pa.Table]] = {}
        offset = 0
        for prep in preps:
            last = 0
            for k, t in prep.typed.items():
                line = pc.add(t.column("line"), pa.scalar(offset, t.schema.field("line").type))
                merged.setdefault(k, []).append(t.set_column(0, "line", line))
                if t.num_rows:
                    last = max(last, pc.max(t.column("line")).as_py() or 0)
            offset += last + 1
        try:
            typed = {
                k: pa.concat_tables(v, promote_options="permissive") for k, v in merged.items()
            }
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            raise Rejected([Problem(0, "", "files of differing types: load one by one")]) from None
        for k, t in typed.items():
            if (key := KINDS[k].key) is not None and not KINDS[k].update:
                col = t.column(KINDS[k].get(key).col)
                if len(pc.unique(col)) < t.num_rows:  # a key two files both create
                    raise Rejected([Problem(0, key, "created twice across files")])
        results = [p.res for p in preps]
        staged = {k: t.num_rows for k, t in typed.items()}
        try:
            self.typed = typed
            for k, t in typed.items():
                self._register(f"_s_{k}", t)
            self._check_refs(staged)
            self._lap("refs", t0)
            self._write(results, staged, crash)
        finally:
            self._cleanup()
        per = (time.perf_counter() - t0) / max(len(preps), 1)
        for p in preps:
            p.res.elapsed_s = p.elapsed_s + per
        return results

    def _register(self, name: str, table: pa.Table) -> None:
        self.cur.register(name, table)
        self._views.append(name)

    def _cleanup(self) -> None:
        for n in self._views:
            with contextlib.suppress(duckdb.Error):
                self.cur.unregister(n)
        self._views = []
        self._sizes = None
        self.typed = {}

    # Checking ids ------------------------------------------------------------------------------

    def _check_refs(self, staged: dict[str, int]) -> None:
        """Every id must exist in the database or be created on an earlier line of this file.

        Per referenced kind: the distinct ids that this file does not create are looked up in the
        database (through the primary-key index when they are few, else by one anti-join); rows
        referring to a missing id, or to one this file creates only on a later line, are problems.
        Keys of update events are looked up when the update is applied.
        """
        targets: dict[str, list[tuple[str, Any]]] = {}
        for k in staged:
            kind = KINDS[k]
            for f in kind.fields:
                if f.ref:
                    targets.setdefault(f.ref, []).append(
                        (f.name, (k, f, kind.update and f.name == kind.key))
                    )
        problems: list[Problem] = []
        for target, refs in targets.items():
            table, key = ENTITIES[target]
            what = target.replace("_", " ")
            created = self.typed.get(target)
            created_ids = created.column(key) if created is not None else None
            lookups = [self.typed[k].column(f.col) for _, (k, f, upd) in refs if not upd]
            if lookups:
                ids = pc.unique(
                    pa.chunked_array([c for col in lookups for c in col.chunks])
                    .combine_chunks()
                    .drop_null()
                )
                if created_ids is not None and len(ids):
                    ids = ids.filter(pc.invert(pc.is_in(ids, value_set=created_ids)))
                missing = self._missing(table, key, ids) if len(ids) else None
                if missing is not None and len(missing):
                    for _, (k, f, upd) in refs:
                        if upd:
                            continue
                        t = self.typed[k]
                        bad = pc.is_in(t.column(f.col), value_set=missing)
                        problems += _masked(
                            t,
                            bad,
                            f.name,
                            _says(
                                what,
                                "does not exist (not in the database nor earlier in this file)",
                            ),
                            f.col,
                        )
            if created is not None and created_ids is not None:
                created_lines = created.column("line")
                for _, (k, f, _upd) in refs:
                    t = self.typed[k]
                    pos = pc.index_in(t.column(f.col), value_set=created_ids)
                    at = pc.take(created_lines, pos)
                    bad = pc.greater_equal(at, t.column("line"))
                    if pc.any(bad).as_py():
                        problems += _masked(
                            t,
                            bad,
                            f.name,
                            _says(what, "is created only on a later line of this file"),
                            f.col,
                        )
        if problems:
            raise Rejected(problems)

    def _missing(self, table: str, key: str, ids: pa.Array) -> pa.Array:
        """Those of the distinct `ids` that `table` does not hold."""
        cur = self.cur
        if len(ids) <= INDEX_LOOKUP_MAX and len(ids) * 100 < self._table_rows(table):
            # Few ids, big table: an IN list of constants is a primary-key index lookup.
            found = cur.sql(
                f"SELECT {_q(key)} FROM {table} WHERE {_q(key)} IN ({_int_list(ids.to_pylist())})"
            ).to_arrow_table()
            return ids.filter(pc.invert(pc.is_in(ids, value_set=found.column(0))))
        # A semi join (table rows that match) lets DuckDB push the ids' range into the table scan;
        # an anti join would scan it all.
        self._register("_ids", pa.table({"id": ids}))
        found = cur.sql(
            f"SELECT t.{_q(key)} FROM {table} t SEMI JOIN _ids c ON t.{_q(key)} = c.id"
        ).to_arrow_table()
        cur.unregister("_ids")
        self._views.remove("_ids")
        return ids.filter(pc.invert(pc.is_in(ids, value_set=found.column(0))))

    def _table_rows(self, table: str) -> int:
        """Estimated rows of a table (read once per file)."""
        if self._sizes is None:
            self._sizes = dict(
                self.cur.execute(
                    "SELECT table_name, estimated_size FROM duckdb_tables() WHERE NOT temporary"
                ).fetchall()
            )
        return int(self._sizes.get(table) or 0)

    # Writing -----------------------------------------------------------------------------------

    def _write(
        self,
        res: FileResult | list[FileResult],
        staged: dict[str, int],
        crash: Callable[[str], None] | None,
    ) -> None:
        cur = self.cur
        t = time.perf_counter()
        cur.execute("BEGIN")
        try:
            inserts = [k for k in INSERT_ORDER if k in staged]
            self._skip_known(inserts)
            for k in inserts:
                kind = KINDS[k]
                cols = ", ".join(_q(f.col) for f in kind.fields if f.stored)
                try:
                    cur.execute(f"INSERT INTO {kind.table} ({cols}) SELECT {cols} FROM _s_{k}")
                except duckdb.ConstraintException as exc:
                    cur.execute("ROLLBACK")
                    raise self._diagnose_constraint(k, exc) from None
            t = self._lap("insert", t)
            if inserts:
                rollups.apply(cur, {KINDS[k].table: f"_s_{k}" for k in inserts})
            t = self._lap("rollups", t)
            for table in sorted({KINDS[k].table for k in staged if KINDS[k].update}):
                kinds = [k for k in staged if KINDS[k].update and KINDS[k].table == table]
                self._apply_updates(table, kinds)
            t = self._lap("updates", t)
            for r in res if isinstance(res, list) else [res]:  # one ingest_log row per file
                self.log(r.name, r.size, r.checksum, r.rows, "ingested")
            files = len(res) if isinstance(res, list) else 1
            if crash:  # the test hook counts files, whether they commit alone or together
                for _ in range(files):
                    crash("before_commit")
            cur.execute("COMMIT")
            self._lap("commit", t)
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                cur.execute("ROLLBACK")
            raise
        if crash:
            for _ in range(files):
                crash("after_commit")

    def _skip_known(self, inserts: list[str]) -> None:
        """Drop the `if_new` rows whose id the database already holds (re-announced entities):
        the staged relation then holds only what is inserted, so the rollups count it once."""
        for k in inserts:
            kind = KINDS[k]
            typed = self.typed.get(k)
            if kind.key is None or typed is None or "if_new" not in typed.column_names:
                continue
            flagged = pc.fill_null(typed.column("if_new"), False)
            if not pc.any(flagged).as_py():
                continue
            key = kind.get(kind.key).col
            ids = pc.unique(typed.column(key).filter(flagged))
            missing = self._missing(kind.table, key, ids)
            keep = pc.or_(pc.invert(flagged), pc.is_in(typed.column(key), value_set=missing))
            kept = typed.filter(keep)
            self.cur.unregister(f"_s_{k}")
            self.cur.register(f"_s_{k}", kept)
            self.typed[k] = kept

    def _diagnose_constraint(self, k: str, exc: Exception) -> Rejected:
        kind = KINDS[k]
        if kind.key:
            key = _q(kind.key)
            rows = self.cur.execute(
                f"SELECT s.line, s.{key} FROM _s_{k} s SEMI JOIN {kind.table} t "
                f"ON t.{key} = s.{key} ORDER BY s.line LIMIT {MAX_PROBLEMS}"
            ).fetchall()
            if rows:
                return Rejected(
                    [Problem(n, kind.key, f"{v} already exists in the database") for n, v in rows]
                )
        first = str(exc).splitlines()[0]
        return Rejected([Problem(0, "", f"the database refused the {k} rows: {first}")])

    def _apply_updates(self, table: str, kinds: list[str]) -> None:
        """Apply the update events of `table` in line order, each checked against the row's state.

        The touched rows are read once (_old, through the primary-key index when few), updated in
        Arrow round by round (round r applies each key's r-th update, checked against the state
        the previous round left), written back with one UPDATE, and their rollup deltas are
        computed from old and new versions of those rows only.
        """
        cur = self.cur
        spec = _UPDATES[table]
        key = spec["key"]
        qkey = _q(key)
        parts = []
        for k in kinds:
            t = self.typed[k]
            n = t.num_rows
            arrays = [t.column("line"), pa.array([k] * n, pa.string())]
            for c, typ in spec["fields"].items():
                arrays.append(
                    t.column(c) if c in t.column_names else pa.nulls(n, _ARROW_TYPES[typ])
                )
            parts.append(pa.Table.from_arrays(arrays, names=["line", "kind", *spec["fields"]]))
        u = pa.concat_tables(parts).combine_chunks()
        keys = pc.unique(u.column(key))
        if len(keys) == u.num_rows:
            u = u.append_column("rnk", pa.array([1] * u.num_rows, pa.int64()))
        else:
            self._register("_ua", u)
            u = cur.sql(
                f"SELECT *, row_number() OVER (PARTITION BY {qkey} ORDER BY line) AS rnk FROM _ua"
            ).to_arrow_table()
        self._register("_u", u)
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
        self._register("_old", old)
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
            self._register("_cur", current)
            self._register("_ur", u.filter(pc.equal(u.column("rnk"), r)))
            new = cur.sql(
                f"SELECT {select}, CASE WHEN u.line IS NOT NULL THEN {spec['problem']} END AS _p, "
                f"u.line AS _line FROM _cur t LEFT JOIN _ur u ON u.{qkey} = t.{qkey}"
            ).to_arrow_table()
            found, _ = _rows_problems(new.rename_columns([*cols, "_p", "line"]), "_p")
            if found:
                raise Rejected(found)
            current = new.select(cols)
        self._register("_cur", current)
        changed = ", ".join(f"{_q(c)} = n.{_q(c)}" for c in spec["set"])
        cur.execute(
            f"UPDATE {table} t SET {changed} FROM _cur n WHERE t.{qkey} = n.{qkey} AND {where}"
        )
        if table == "transactions":
            refund_deltas(cur, "_old", "_cur", tables=self._tables)
        else:
            update_deltas(cur, table, "_old", "_cur")


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


# -- the spool directory ---------------------------------------------------------------------------


def is_candidate(name: str) -> bool:
    """Files the ingester reads: not dotfiles, not *.tmp (producers write those, then rename)."""
    return not name.startswith(".") and not name.endswith(".tmp")


def _unique(dest_dir: Path, name: str) -> Path:
    dest = dest_dir / name
    if not dest.exists() and not (dest_dir / f"{name}.reason").exists():
        return dest
    p = Path(name)
    stem, suffix = name[: len(name) - len(p.suffix)], p.suffix
    n = 1
    while True:
        dest = dest_dir / f"{stem}~{n}{suffix}"
        if not dest.exists():
            return dest
        n += 1


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def reason_text(
    name: str, size: int, checksum: str, problems: list[Problem], total: int, unit: str
) -> str:
    """The body of a `.reason` file: what was rejected and, per problem, where and why."""
    out = [f"rejected: {name} ({size} bytes, sha256 {checksum})"]
    if total > len(problems):
        out.append(f"{total} problems; the first {len(problems)}:")
    out += [p.text(unit) for p in problems]
    out.append("Nothing of this file was loaded. Fix it and drop it into the spool again.")
    return "\n".join(out) + "\n"


LOCK_NAME = ".ecotop-ingest.lock"


def _bad(message: str) -> StoreError:
    from ecotop.store.errors import BadInput

    return BadInput(message)


class IngestFailed(StoreError):
    """A file could not be loaded for a reason that is not the file's (the database failed)."""


def _lock_spool(directory: Path) -> Any:
    """Hold an exclusive lock on the spool directory: two ingesters would race for its files."""
    import fcntl

    from ecotop.store.errors import BadInput

    try:
        fh = open(directory / LOCK_NAME, "a+")  # noqa: SIM115 - held until close()
    except OSError as exc:
        raise BadInput(
            f"{directory}: cannot write in the spool directory ({exc.strerror or exc}); "
            "ingestion moves files out of it, so it must be writable"
        ) from None
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.seek(0)
        who = fh.read().strip() or "another process"
        fh.close()
        raise BadInput(
            f"{directory}: another ecotop is ingesting this spool directory ({who})"
        ) from None
    fh.seek(0)
    fh.truncate()
    fh.write(f"pid {os.getpid()}")
    fh.flush()
    return fh


# Small files that queue up are loaded together, in one transaction (each keeps its ingest_log row,
# its checksum and, should the group fail, its own rejection): files under GROUP_FILE_EVENTS rows,
# gathered until ECOTOP_SPOOL_GROUP_EVENTS rows (default 100,000; 0 loads every file alone).
GROUP_FILE_EVENTS = 20_000


def group_events() -> int:
    """Rows a group of small files gathers up to (ECOTOP_SPOOL_GROUP_EVENTS)."""
    try:
        return max(0, int(os.environ.get("ECOTOP_SPOOL_GROUP_EVENTS", "100000")))
    except ValueError:
        return 100_000


def _rows(prepared: tuple[bytes | None, Any]) -> int:
    prep = prepared[1]
    return prep.res.rows if isinstance(prep, Prepared) else 0


class Spool:
    """A spool directory feeding one open writable database.

    `process(path)` handles one file start to end; `run_once()` every file waiting now (oldest
    first: modification time, then name). Ingested files move to `done/` (or are deleted with
    `delete=True`), rejected ones to `rejected/` with `<name>.reason`. The write-ahead log is
    checkpointed from this (the ingesting) thread when it passes `wal_limit` bytes.
    """

    def __init__(
        self,
        db: Any,
        directory: str | os.PathLike[str],
        *,
        delete: bool = False,
        wal_limit: int = DEFAULT_WAL_LIMIT,
        crash: Callable[[str], None] | None = None,
    ) -> None:
        self.db = db
        self.dir = Path(directory)
        if not self.dir.is_dir():
            from ecotop.store.errors import BadInput

            raise BadInput(f"{self.dir}: no such spool directory")
        self._lock = _lock_spool(self.dir)
        self.done_dir = self.dir / "done"
        self.rejected_dir = self.dir / "rejected"
        for sub in (self.done_dir, self.rejected_dir):
            try:
                sub.mkdir(exist_ok=True)
            except FileExistsError:
                self._lock.close()
                raise _bad(f"{sub}: exists and is not a directory; move it away") from None
            except OSError as exc:
                self._lock.close()
                raise _bad(f"{sub}: cannot create: {exc.strerror or exc}") from None
        self.delete = delete
        self.wal_limit = wal_limit
        self.crash = crash
        self._cur: duckdb.DuckDBPyConnection | None = None
        self._loader: Loader | None = None
        path = getattr(db, "path", None)
        self.wal_path = Path(f"{path}.wal") if path else None
        self.checkpoints = 0
        self.checkpoint_error: str | None = None
        self.wal_peak = 0
        self._pool: Any = None
        self._prep_cur: duckdb.DuckDBPyConnection | None = None

    @property
    def cur(self) -> duckdb.DuckDBPyConnection:
        """The ingest cursor, made on first use by the thread that ingests."""
        if self._cur is None:
            self._cur = self.db.cursor()
            # a lake brings its own Loader (store.lake.LakeLoader: a lake-wide claim per file)
            self._loader = getattr(self.db, "make_loader", Loader)(self._cur)
        return self._cur

    @property
    def loader(self) -> Loader:
        self.cur  # noqa: B018
        assert self._loader is not None
        return self._loader

    def pending(self) -> list[Path]:
        """Files waiting in the spool, oldest first."""
        found = []
        try:
            it = os.scandir(self.dir)
        except OSError as exc:
            raise _bad(
                f"{self.dir}: the spool directory cannot be read ({exc.strerror or exc}); "
                "was it removed?"
            ) from None
        with it:
            for e in it:
                if not is_candidate(e.name):
                    continue
                try:
                    if not e.is_file(follow_symlinks=False):
                        continue
                    st = e.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                found.append((st.st_mtime_ns, e.name))
        return [self.dir / n for _, n in sorted(found)]

    def process(self, path: Path) -> FileResult | None:
        """Ingest, skip or reject one file and move it; None if it vanished before it was read."""
        return self._finish(path, self._prepare(path, self.cur))

    def run_once(
        self,
        stop: threading.Event | None = None,
        on_result: Callable[[FileResult], None] | None = None,
    ) -> list[FileResult]:
        """Process every file waiting now (stopping between files when `stop` is set); each
        result also goes to `on_result` as soon as its file is done.

        Pipelined: while one file commits on the ingest cursor, a helper thread reads, parses and
        types the next one on its own cursor (the commits stay strictly one after the other).
        """
        out: list[FileResult] = []
        files = self.pending()
        if not files:
            return out

        def done(r: FileResult | None) -> None:
            if r is not None:
                out.append(r)
                if on_result is not None:
                    on_result(r)

        ex = self._executor()
        nxt = ex.submit(self._prepare_in_helper, files[0])
        group: list[tuple[Path, tuple[bytes | None, Any]]] = []
        limit = group_events()
        for i, p in enumerate(files):
            if stop is not None and stop.is_set():
                break
            prepared = nxt.result()
            if i + 1 < len(files):
                nxt = ex.submit(self._prepare_in_helper, files[i + 1])
            if limit and self._groupable(prepared, group):
                group.append((p, prepared))
                if sum(_rows(g[1]) for g in group) < limit and i + 1 < len(files):
                    continue  # more small files queue up behind it: gather them
                for r in self._finish_group(group):
                    done(r)
                group = []
                continue
            for r in self._finish_group(group):
                done(r)
            group = []
            done(self._finish(p, prepared))
        for r in self._finish_group(group):
            done(r)
        return out

    def _groupable(self, prepared: tuple[bytes | None, Any], group: list[tuple[Path, Any]]) -> bool:
        """A small, good, new file the base Loader can load together with `group`."""
        raw, prep = prepared
        if raw is None or not isinstance(prep, Prepared) or prep.duplicate:
            return False
        if type(self.loader) is not Loader or prep.res.rows >= GROUP_FILE_EVENTS:
            return False
        return all(g[1][1].res.checksum != prep.res.checksum for g in group)

    def _finish_group(
        self, group: list[tuple[Path, tuple[bytes | None, Any]]]
    ) -> list[FileResult | None]:
        """Load small files in one transaction and move each; if the group fails as a whole,
        each half again (down to one file on its own: only a bad file is rejected)."""
        if len(group) <= 1:
            return [self._finish(p, prepared) for p, prepared in group]
        preps = [prepared[1] for _, prepared in group]
        try:
            results = self.loader.commit_group(preps, crash=self.crash)
        except (Rejected, duckdb.Error):
            mid = len(group) // 2
            return self._finish_group(group[:mid]) + self._finish_group(group[mid:])
        return [self._moved(p, r) for (p, _), r in zip(group, results, strict=True)]

    def _moved(self, path: Path, res: FileResult) -> FileResult:
        """Move (or delete) a file whose rows are committed."""
        if self.delete:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        else:
            dest = _unique(self.done_dir, path.name)
            os.replace(path, dest)
            res.moved_to = dest
        if self.crash:
            self.crash("after_move")
        self.maybe_checkpoint()
        return res

    def _executor(self) -> Any:
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ecotop-spool-prep")
        return self._pool

    def _prepare_in_helper(self, path: Path) -> tuple[bytes | None, Any]:
        if self._prep_cur is None:
            self._prep_cur = self.db.cursor()
        return self._prepare(path, self._prep_cur)

    def _prepare(self, path: Path, cur: duckdb.DuckDBPyConnection) -> tuple[bytes | None, Any]:
        """(bytes, Prepared or the Rejected/database error it raised); (None, None) if it vanished."""
        try:
            size = path.stat().st_size
            cap = max_file_bytes()
            if size > cap:  # not read at all: the reason names its size
                why = f"{size:,} bytes, over the {cap:,}-byte cap (ECOTOP_SPOOL_MAX_FILE)"
                return b"", Rejected([Problem(0, "", why)])
            raw = path.read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            return None, None
        if file_format(path.name) in ("ndjson", "csv"):
            long = _long_line(raw, max_line_bytes())
            if long is not None:
                why = (
                    f"{long[1]:,} bytes, over the {max_line_bytes():,}-byte line cap "
                    "(ECOTOP_SPOOL_MAX_LINE)"
                )
                return raw, Rejected([Problem(long[0], "", why)])
        try:
            return raw, self.loader.prepare(path.name, raw, cur)
        except (Rejected, duckdb.Error) as exc:
            return raw, exc

    def _finish(self, path: Path, prepared: tuple[bytes | None, Any]) -> FileResult | None:
        raw, prep = prepared
        if raw is None:
            return None
        t0 = time.perf_counter()
        try:
            if isinstance(prep, BaseException):
                raise prep
            res = self.loader.commit(prep, crash=self.crash)
        except duckdb.Error as exc:  # not the file's fault: nothing loaded, it stays in the spool
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise IngestFailed(
                f"{path}: not ingested, the database failed ({first}); the file stays in the spool"
            ) from exc
        except Rejected as exc:
            res = FileResult(path.name, "rejected", size=len(raw), checksum=sha256(raw))
            res.problems, res.total_problems, res.unit = exc.problems, exc.total, exc.unit
            self.loader.log(res.name, res.size, res.checksum, 0, "rejected")
            dest = _unique(self.rejected_dir, path.name)
            _write_atomic(
                dest.with_name(dest.name + ".reason"),
                reason_text(path.name, res.size, res.checksum, exc.problems, exc.total, exc.unit),
            )
            os.replace(path, dest)
            res.moved_to = dest
            res.elapsed_s = time.perf_counter() - t0
            return res
        return self._moved(path, res)

    def wal_size(self) -> int:
        if self.wal_path is None:
            return 0
        try:
            return self.wal_path.stat().st_size
        except FileNotFoundError:
            return 0

    def maybe_checkpoint(self, limit: int | None = None) -> bool:
        """CHECKPOINT when the write-ahead log is larger than `limit` (default wal_limit)."""
        size = self.wal_size()
        self.wal_peak = max(self.wal_peak, size)
        if size <= (self.wal_limit if limit is None else limit):
            return False
        try:
            try:
                self.cur.execute("CHECKPOINT")
            except duckdb.TransactionException:
                # Readers are running (the dashboard's refresh): FORCE waits for the checkpoint lock
                # (DuckDB >= 1.4; it no longer aborts them), holding new transactions meanwhile.
                self.cur.execute("FORCE CHECKPOINT")
        except duckdb.Error as exc:  # try again after the next file
            self.checkpoint_error = str(exc).splitlines()[0]
            return False
        self.checkpoints += 1
        return True

    def close(self) -> None:
        """Close the ingest cursor and let another ingester have the directory."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        if self._prep_cur is not None:
            with contextlib.suppress(duckdb.Error):
                self._prep_cur.close()
            self._prep_cur = None
        if self._cur is not None:
            with contextlib.suppress(duckdb.Error):
                self._cur.close()
            self._cur = None
            self._loader = None
        if self._lock is not None:
            self._lock.close()
            self._lock = None


class SpoolFeed:
    """Ingests a spool directory on its own thread while the dashboard shows (mirrors tui.live.LiveFeed).

    A plain thread, not a Textual worker; stopped by an event and joined on quit, after the file in
    hand is finished (a file is one transaction: it is either in, or still in the spool). Counters
    (`total`, `files`, `rejected`, `events_per_s()`, `last_append_at`, `error`) are read by the UI.
    """

    def __init__(
        self,
        db: Any,
        directory: str | os.PathLike[str],
        *,
        interval_s: float = 0.5,
        delete: bool = False,
        wal_limit: int = DEFAULT_WAL_LIMIT,
        on_result: Callable[[FileResult], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.spool = Spool(db, directory, delete=delete, wal_limit=wal_limit)
        self.interval_s = interval_s
        self.on_result = on_result
        self.on_error = on_error
        self.clock = clock or (lambda: datetime.now(UTC))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._recent: deque[tuple[float, int]] = deque(maxlen=240)
        self.total = 0
        self.batches = 0
        self.files = 0
        self.rejected = 0
        self.duplicates = 0
        self.last_append_at: datetime | None = None
        self.last_event_until: datetime | None = None
        self.last_result: FileResult | None = None
        self.error: BaseException | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="ecotop-spool", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the thread to stop and wait for it (the file in hand finishes first)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.spool.close()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def step(self) -> int:
        """Ingest every file waiting now; returns how many rows were appended."""
        results = self.spool.run_once(self._stop, on_result=self._count)
        return sum(r.rows for r in results if r.outcome == "ingested")

    def _count(self, res: FileResult) -> None:
        with self._lock:
            self.last_result = res
            if res.outcome == "ingested":
                self.total += res.rows
                self.files += 1
                self.batches += 1
                self._recent.append((time.monotonic(), res.rows))
                if res.rows:
                    self.last_append_at = self.last_event_until = self.clock()
            elif res.outcome == "rejected":
                self.rejected += 1
            else:
                self.duplicates += 1
        if self.on_result is not None:
            self.on_result(res)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                if not self.step():
                    # Idle: a good moment for a checkpoint, then wait for files.
                    self.spool.maybe_checkpoint(limit=self.spool.wal_limit // 4)
                    self._stop.wait(self.interval_s)
        except Exception as exc:  # reported in the status bar; the feed stops
            self.error = exc
            if self.on_error is not None:
                self.on_error(exc)

    def events_per_s(self, window_s: float = 10.0) -> float:
        """Rows ingested per second over the last `window_s` seconds of wall time."""
        now = time.monotonic()
        with self._lock:
            recent = [(t, n) for t, n in self._recent if now - t <= window_s]
        if not recent:
            return 0.0
        span = max(now - recent[0][0], self.interval_s)
        return sum(n for _, n in recent) / span
