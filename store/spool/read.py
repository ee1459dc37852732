"""Reading a spool file: its bytes parsed into one Arrow table (NDJSON, CSV or Parquet), split by
event kind, and the caps on what one file may ask of memory.

pyarrow's readers first; NDJSON that they cannot take line by line goes through DuckDB's JSON
functions, which name the line and field of every problem. SQL itself never opens a file.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from ecotop.store.spool.results import MAX_PROBLEMS, Problem, Rejected, _sql_list, _sql_str
from ecotop.store.spool_format import (
    ALIASES,
    FIELD_TYPES,
    KINDS,
    TS,
    resolve,
)

FORMATS = {".ndjson": "ndjson", ".jsonl": "ndjson", ".csv": "csv", ".parquet": "parquet"}
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


def sha256(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def file_kind(name: str) -> str | None:
    """The kind a file's name declares (`transaction-0001.csv` -> transaction), or None."""
    stem = name.split(".", 1)[0]
    return resolve(stem.split("-", 1)[0])


def file_format(name: str) -> str | None:
    """ndjson, csv or parquet from the file's extension, or None."""
    return FORMATS.get(Path(name).suffix.lower())
