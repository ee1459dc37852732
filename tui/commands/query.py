"""`ecotop query FILE "SQL"`: ad-hoc, read-only SQL from scripts, as a table, CSV, JSON or Parquet.

Every statement passes the SQL guard (store/guard.py): anything that would change data, schema,
sequences or settings, or read files, is refused before anything runs. The file is opened read-only;
while another process writes it and serves it, the statements run there, through the same guard.

Output (data on stdout or --out, messages on stderr):
- table (default): aligned plain text; wide characters (Chinese names) take two columns; NULL shown
  as NULL. Several statements separated by `;` print one table each, separated by a blank line.
- csv: a header row, then rows; NULL is an empty field.
- json: an array of objects, one per line; decimals are numbers, NULL is null, NaN/inf are null.
- parquet: needs --out PATH or a stdout that is not a terminal.
csv, json and parquet hold one result, so they take one statement. Timestamps with time zone are
written in ISO 8601 with their offset, in the display zone (ECOTOP_DISPLAY_ZONE, else the file's
`display_zone`, else Asia/Shanghai). --out writes a new private temporary file beside PATH (created
exclusively, never through a link) and renames it, so a failed query never leaves half a file. It
never replaces a DuckDB database (the one being read or any other) or a WAL, whatever the flags, and
refuses any other existing PATH unless --force.

--timeout SECONDS (default 30, 0: none) cancels a statement that runs longer, with one line and exit
1; the first Ctrl+C cancels it and exits 130 at once. The process runs under a memory ceiling
(ECOTOP_QUERY_MEMORY, default the DuckDB memory limit plus 400MB) so a value DuckDB's own limit does
not see ends the query with an out-of-memory line instead of exhausting the server.

--limit N (default 1000) keeps the first N rows of each statement; 0 means no limit. When the limit
cut a result, stderr says so. Exit codes: 0 ok, 1 refused, failed or timed-out SQL, missing or
locked file, an --out PATH it will not replace, 130 interrupted, 2 usage (bad option, parquet to a terminal, several statements for csv/json/parquet).

One piece over ~500 lines: the command and its output writers (table, CSV, JSON, Parquet), its
bounds (time, memory, Ctrl+C) and the safe --out, all of which only this command uses.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import math
import os
import re
import secrets
import sys
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import click

from ecotop.tui.commands.common import guarded, is_tty

DEFAULT_LIMIT = 1000
DEFAULT_TIMEOUT = 30.0
DEFAULT_ZONE = "Asia/Shanghai"
FORMATS = ("table", "csv", "json", "parquet")


@click.command()
@click.argument("file", type=click.Path(path_type=Path, readable=False))
@click.argument("sql")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help="Output format.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write the result to PATH instead of stdout.",
)
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=DEFAULT_LIMIT,
    show_default=True,
    help="Keep the first N rows of each statement (0: no limit).",
)
@click.option("--force", is_flag=True, help="Replace an existing --out file (never a database).")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=DEFAULT_TIMEOUT,
    show_default=True,
    help="Cancel a statement after SECONDS (0: no time limit).",
)
@guarded
def query(
    file: Path,
    sql: str,
    fmt: str,
    out: Path | None,
    limit: int,
    force: bool,
    timeout: float,
) -> None:
    """Run read-only SQL against FILE and print the result (SQL "-" reads it from stdin).

    Statements that change data, schema or settings, or read files, are refused. Several statements
    separated by ";" print one table each (table format only).
    """
    from ecotop.queries.files import guard, open_db

    if sql == "-":
        sql = sys.stdin.read()
    if fmt == "parquet" and out is None and is_tty(sys.stdout):
        raise click.UsageError("parquet is binary: give --out PATH or redirect stdout")
    if out is not None:
        _check_out(out, file, force)
    db = open_db(file)
    try:
        local = not db.remote
        if local:  # through a writer's socket the writer runs (and bounds) the query; gRPC's
            _memory_ceiling()  # own arenas would trip a data ceiling here
        cur = db.cursor()
        statements = guard.check(sql, cur) if local else guard.check(sql)
        if not statements:
            raise click.UsageError("no SQL statement given")
        if len(statements) > 1 and fmt != "table":
            raise click.UsageError(
                f"{len(statements)} statements: --format {fmt} holds one result; "
                "run them one at a time (or use --format table)"
            )
        zone = _zone(db)
        cap = limit or None
        _bounded(
            cur,
            timeout,
            lambda: _emit(guard, cur, statements, cap, local, fmt, out, force, zone, limit),
        )
    finally:
        db.close()


def _emit(
    guard: Any,
    cur: Any,
    statements: list[str],
    cap: int | None,
    local: bool,
    fmt: str,
    out: Path | None,
    force: bool,
    zone: dt.tzinfo,
    limit: int,
) -> None:
    from ecotop.queries.errors import SqlError

    with _output(out, binary=fmt == "parquet", force=force) as sink:
        for index, statement in enumerate(statements, 1):
            where = f"statement {index}: " if len(statements) > 1 else ""
            try:
                result = _execute(guard, cur, statement, cap, local, fmt)
                with result:
                    if index > 1:
                        sink.write("\n")
                    WRITERS[fmt](sink, result, zone)
            except SqlError as exc:
                raise type(exc)(where + str(exc)) from None
            if result.truncated:
                by = "--limit (--limit 0 shows all)" if limit else "the serving writer's cap"
                click.echo(
                    f"ecotop: {where}showing first {result.rows} rows; more were cut by {by}",
                    err=True,
                )


# --- running ----------------------------------------------------------------------------------------


class _Result:
    """One statement's rows as Arrow batches, from a local stream or a served table."""

    def __init__(
        self,
        schema: Any,
        batches: Iterable[Any],
        truncated: Callable[[], bool],
        close: Callable[[], None],
    ) -> None:
        self.schema = schema
        self._batches = batches
        self._truncated = truncated
        self._close = close
        self.rows = 0

    @property
    def batches(self) -> Iterator[Any]:
        for batch in self._batches:
            self.rows += batch.num_rows
            yield batch

    @property
    def truncated(self) -> bool:
        return self._truncated()

    def __enter__(self) -> _Result:
        return self

    def __exit__(self, *exc: object) -> None:
        self._close()


def _execute(
    guard: Any, cur: Any, statement: str, limit: int | None, local: bool, fmt: str
) -> _Result:
    if not local:  # the writer runs it, through its guard
        table, truncated = cur.adhoc(statement, limit)
        return _Result(table.schema, table.to_batches(), lambda: truncated, lambda: None)
    if fmt == "table":  # needs every row for the column widths: bounded by --limit
        res = guard.run(cur, statement, limit)
        return _Result(
            res.table.schema, res.table.to_batches(), lambda: res.truncated, lambda: None
        )
    s = guard.stream(cur, statement, limit)
    return _Result(s.schema, s, lambda: s.truncated, s.close)


def _zone(db: Any) -> dt.tzinfo:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from ecotop.queries.errors import BadInput

    name = os.environ.get("ECOTOP_DISPLAY_ZONE") or ""
    if not name:
        with contextlib.suppress(Exception):
            name = db.meta().get("display_zone", "")
    try:
        return ZoneInfo(name or DEFAULT_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadInput(f"unknown time zone {name!r} (use a name like Asia/Shanghai)") from None


class _TextSink:
    def __init__(self, stream: IO[Any], binary: bool) -> None:
        self.stream = stream
        self.binary = binary

    def write(self, text: str) -> None:
        if self.binary:
            raise click.UsageError("parquet holds one result")  # pragma: no cover
        self.stream.write(text)


_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(i?B)?\s*$", re.I)


def _bytes(text: str) -> int | None:
    m = _SIZE_RE.match(text or "")
    if not m:
        return None
    unit = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}[m.group(2).upper()]
    return int(float(m.group(1)) * unit)


def _memory_ceiling() -> None:
    """Cap this process's data memory (RLIMIT_DATA, not RLIMIT_AS: DuckDB reserves address space).

    `ecotop query` only reads, so a ceiling caps nothing ingestion needs; it turns a value DuckDB's
    memory_limit does not track (`repeat('x', n)` with n from a subquery) into DuckDB's one-line
    out-of-memory error instead of gigabytes of RSS.
    """
    import resource

    from ecotop.queries.files import Limits

    text = os.environ.get("ECOTOP_QUERY_MEMORY", "")
    ceiling = _bytes(text) if text else None
    if ceiling is None:
        ceiling = (_bytes(Limits().memory_limit) or 2**30) + 400 * 2**20
    with contextlib.suppress(ValueError, OSError):
        soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
        if soft == resource.RLIM_INFINITY or soft > ceiling:
            resource.setrlimit(resource.RLIMIT_DATA, (ceiling, hard))


def _is_duckdb_file(path: Path) -> bool:
    """A DuckDB database or WAL: by its header, or a .wal beside a database."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError:
        head = b""
    if len(head) >= 12 and head[8:12] == b"DUCK":
        return True
    return bool(path.name.endswith(".wal"))


def _check_out(out: Path, db_file: Path, force: bool) -> None:
    """Refuse an --out that would replace a database, its WAL, or (without --force) any file."""
    from ecotop.queries.errors import BadInput

    target = Path(os.path.abspath(out))
    db = Path(os.path.abspath(db_file))
    protected = {db, db.with_name(db.name + ".wal")}
    with contextlib.suppress(OSError):
        protected |= {db.resolve(), db.resolve().with_name(db.resolve().name + ".wal")}
    real = target
    with contextlib.suppress(OSError):
        real = target.resolve()
    if (
        target in protected
        or real in protected
        or target.name.endswith(".wal")  # a new one beside a database would be replayed into it
        or (os.path.lexists(target) and _is_duckdb_file(target))
    ):
        raise BadInput(f"{out}: refusing to overwrite a DuckDB database or its WAL with --out")
    if os.path.lexists(target) and not force:
        raise BadInput(f"{out}: already exists (use --force to replace it)")


_TMP_FILES: set[Path] = set()


@contextlib.contextmanager
def _output(out: Path | None, binary: bool, force: bool = False) -> Iterator[_TextSink]:
    """stdout, or a new temporary file beside `out` renamed onto it only when everything was written.

    The temporary file is created O_EXCL|O_NOFOLLOW (a planted name or link makes it fail, never
    write through), and `out` is checked again just before the rename.
    """
    from ecotop.queries.errors import BadInput

    if out is None:
        stream = sys.stdout.buffer if binary else sys.stdout
        yield _TextSink(stream, binary)
        stream.flush()
        return
    tmp = out.with_name(f".{out.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(tmp, flags, 0o666)
    except OSError as exc:
        raise BadInput(f"{out}: cannot write: {exc.strerror or exc}") from None
    _TMP_FILES.add(tmp)
    fh = os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8", newline="")
    try:
        with fh:
            yield _TextSink(fh, binary)
        if os.path.lexists(out) and (not force or _is_duckdb_file(out)):
            raise BadInput(f"{out}: appeared while writing; not replaced (use --force)")
        os.replace(tmp, out)
    except OSError as exc:
        raise BadInput(f"{out}: cannot write: {exc.strerror or exc}") from None
    finally:
        _TMP_FILES.discard(tmp)
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _bounded(cur: Any, timeout: float, work: Callable[[], None]) -> None:
    """Run `work` on a helper thread; the main thread stays free for Ctrl+C and the time limit.

    DuckDB holds the calling thread until a statement ends, so a signal handler on that thread
    would never run: here the first SIGINT interrupts the statement and exits 130 within a second.
    """
    from ecotop.queries.errors import SqlError

    box: dict[str, BaseException] = {}

    def target() -> None:
        try:
            work()
        except BaseException as exc:  # re-raised on the main thread
            box["exc"] = exc

    worker = threading.Thread(target=target, name="ecotop-query", daemon=True)
    worker.start()
    deadline = time.monotonic() + timeout if timeout else None
    try:
        while worker.is_alive():
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                if _cancel(cur, worker):
                    _abandon(f"query cancelled after the {timeout:g} s --timeout (0: no limit)", 1)
                raise SqlError(f"query cancelled after the {timeout:g} s --timeout (0: no limit)")
            worker.join(0.1 if left is None else max(0.01, min(0.1, left)))
    except KeyboardInterrupt:
        _cancel(cur, worker)
        _abandon("interrupted", 130)
    if "exc" in box:
        raise box["exc"]


def _cancel(cur: Any, worker: threading.Thread) -> bool:
    """Interrupt the running statement; True when the worker is still busy after half a second."""
    with contextlib.suppress(Exception):
        cur.interrupt()
    worker.join(0.5)
    return worker.is_alive()


def _abandon(message: str, code: int) -> None:
    """Exit now, without waiting for DuckDB or the writer: no half-written --out is left."""
    for tmp in list(_TMP_FILES):
        with contextlib.suppress(OSError):
            tmp.unlink()
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    click.echo(f"ecotop: {message}", err=True)
    sys.stderr.flush()
    os._exit(code)


# --- values -------------------------------------------------------------------------------------------


def _unique_names(names: list[str]) -> list[str]:
    """Column names made unique (JSON keys, Parquet fields): a, a -> a, a_1."""
    seen: set[str] = set()
    out = []
    for name in names:
        candidate, n = name, 0
        while candidate in seen:
            n += 1
            candidate = f"{name}_{n}"
        seen.add(candidate)
        out.append(candidate)
    return out


def _interval(v: Any) -> str:
    months, days, nanos = v.months, v.days, v.nanoseconds
    out = "P"
    if months:
        out += f"{months // 12}Y{months % 12}M" if abs(months) >= 12 else f"{months}M"
    if days:
        out += f"{days}D"
    if nanos:
        seconds = Decimal(nanos) / Decimal(1_000_000_000)
        out += f"T{seconds.normalize():f}S"
    return out if out != "P" else "PT0S"


def _plain(v: Any, zone: dt.tzinfo, sep: str = "T") -> Any:
    """A value as JSON would hold it (Decimal stays Decimal, written as a number)."""
    if v is None or isinstance(v, bool | int | str | Decimal):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, dt.datetime):
        return (v.astimezone(zone) if v.tzinfo else v).isoformat(sep=sep)
    if isinstance(v, dt.date | dt.time):
        return v.isoformat()
    if isinstance(v, dt.timedelta):
        return _interval(_MDN(0, v.days, (v.seconds * 10**6 + v.microseconds) * 1000))
    if hasattr(v, "months") and hasattr(v, "nanoseconds"):  # INTERVAL (Arrow MonthDayNano)
        return _interval(v)
    if isinstance(v, bytes):
        return base64.b64encode(v).decode("ascii")
    if isinstance(v, dict):
        return {str(k): _plain(x, zone, sep) for k, x in v.items()}
    if isinstance(v, list | tuple):
        if v and all(isinstance(x, tuple) and len(x) == 2 for x in v) and isinstance(v, list):
            keys = [k for k, _ in v]
            if all(isinstance(k, str) for k in keys) and len(set(keys)) == len(keys):  # a MAP
                return {k: _plain(x, zone, sep) for k, x in v}
        return [_plain(x, zone, sep) for x in v]
    return str(v)


class _MDN:
    def __init__(self, months: int, days: int, nanoseconds: int) -> None:
        self.months, self.days, self.nanoseconds = months, days, nanoseconds


class _JSONEncoder(json.JSONEncoder):
    def default(self, o: Any) -> Any:  # pragma: no cover - _plain leaves only JSON types
        return str(o)


def _json_value(v: Any) -> str:
    if isinstance(v, Decimal):
        return format(v, "f")
    if isinstance(v, dict):
        return (
            "{"
            + ",".join(
                f"{json.dumps(k, ensure_ascii=False)}:{_json_value(x)}" for k, x in v.items()
            )
            + "}"
        )
    if isinstance(v, list):
        return "[" + ",".join(_json_value(x) for x in v) + "]"
    return json.dumps(v, ensure_ascii=False, cls=_JSONEncoder)


def _columns(batch: Any) -> list[list[Any]]:
    return [col.to_pylist() for col in batch.columns]


def _rows(batch: Any) -> Iterator[tuple[Any, ...]]:
    return zip(*_columns(batch), strict=True) if batch.num_columns else iter(())


# --- writers ------------------------------------------------------------------------------------------


def write_json(sink: _TextSink, result: _Result, zone: dt.tzinfo) -> None:
    keys = [json.dumps(k, ensure_ascii=False) for k in _unique_names(result.schema.names)]
    sink.write("[")
    first = True
    for batch in result.batches:
        for row in _rows(batch):
            obj = ",".join(
                f"{k}:{_json_value(_plain(v, zone))}" for k, v in zip(keys, row, strict=True)
            )
            sink.write(("\n" if first else ",\n") + "{" + obj + "}")
            first = False
    sink.write("\n]\n" if not first else "]\n")


def _csv_cell(v: Any, zone: dt.tzinfo) -> Any:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    p = _plain(v, zone)
    if isinstance(p, Decimal):
        return format(p, "f")
    if isinstance(p, dict | list):
        return _json_value(p)
    return "" if p is None else p


def write_csv(sink: _TextSink, result: _Result, zone: dt.tzinfo) -> None:
    import csv

    writer = csv.writer(sink.stream, lineterminator="\n")
    writer.writerow(result.schema.names)
    for batch in result.batches:
        writer.writerows([_csv_cell(v, zone) for v in row] for row in _rows(batch))


def write_parquet(sink: _TextSink, result: _Result, zone: dt.tzinfo) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = result.schema
    names = _unique_names(schema.names)
    if names != schema.names:
        schema = pa.schema([f.with_name(n) for f, n in zip(schema, names, strict=True)])
    with pq.ParquetWriter(sink.stream, schema) as writer:
        for batch in result.batches:
            writer.write_batch(pa.RecordBatch.from_arrays(batch.columns, schema=schema))


def _width(text: str) -> int:
    """Terminal columns: East Asian wide and full-width characters take two, combining marks none."""
    w = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        w += 2 if unicodedata.east_asian_width(ch) in "WF" else 1
    return w


_ESCAPES = str.maketrans({"\n": "\\n", "\r": "\\r", "\t": "\\t"})


def _table_cell(v: Any, zone: dt.tzinfo) -> str:
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "true" if v else "false"
    p = _plain(v, zone, sep=" ")
    if isinstance(p, Decimal):
        return format(p, "f")
    if isinstance(p, dict | list):
        return _json_value(p)
    if p is None:  # a float NaN or infinity
        return str(v)
    return str(p).translate(_ESCAPES)


def _numeric(t: Any) -> bool:
    import pyarrow.types as pt

    return bool(pt.is_integer(t) or pt.is_floating(t) or pt.is_decimal(t))


def write_table(sink: _TextSink, result: _Result, zone: dt.tzinfo) -> None:
    names = list(result.schema.names)
    right = [_numeric(f.type) for f in result.schema]
    rows = [[_table_cell(v, zone) for v in row] for b in result.batches for row in _rows(b)]
    widths = [_width(n) for n in names]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], _width(cell))

    def line(cells: list[str]) -> str:
        parts = []
        for i, cell in enumerate(cells):
            pad = " " * (widths[i] - _width(cell))
            parts.append(pad + cell if right[i] else cell + pad)
        return "  ".join(parts).rstrip() + "\n"

    sink.write(line(names))
    sink.write(line(["-" * w for w in widths]))
    for row in rows:
        sink.write(line(row))


WRITERS: dict[str, Callable[[_TextSink, _Result, dt.tzinfo], None]] = {
    "table": write_table,
    "csv": write_csv,
    "json": write_json,
    "parquet": write_parquet,
}
