"""Writing a result to a file, in Python: CSV and Parquet with pyarrow, JSON with the standard library.

DuckDB runs with external access off (it can touch no file), so every file ecotop writes is written
here, from Arrow record batches streamed out of the query: the whole result never sits in memory.
The file appears only when it is complete (written to a temp file beside it, then renamed), so a
cancelled or failed export leaves nothing half-written and never clobbers an existing file midway.
Nothing here imports Textual.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import math
import os
import secrets
import threading
import uuid
from collections.abc import Callable, Iterable
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import pyarrow as pa

FORMATS: dict[str, str] = {
    "csv": "CSV (header, comma separated)",
    "parquet": "Parquet",
    "json": "JSON (an array of objects)",
    "jsonl": "JSON Lines (one object a line)",
}
_SUFFIXES = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}


class ExportError(Exception):
    """An export that cannot be done (bad path, unknown format); str() is a one-line message."""


class Cancelled(ExportError):
    def __init__(self) -> None:
        super().__init__("export cancelled")


def format_for(path: str | os.PathLike[str], fmt: str | None = None) -> str:
    """The format to write: `fmt` when given, else the one the file's suffix names."""
    if fmt:
        fmt = fmt.lower().lstrip(".")
        if fmt not in FORMATS:
            raise ExportError(f"unknown format {fmt!r} (use one of {', '.join(FORMATS)})")
        return fmt
    suffix = Path(path).suffix.lower()
    if suffix not in _SUFFIXES:
        raise ExportError(
            f"{path}: say the format with the file's suffix (.csv, .parquet, .json, .jsonl)"
        )
    return _SUFFIXES[suffix]


def check_path(path: str | os.PathLike[str], overwrite: bool = False) -> Path:
    """Expand `~`, check the directory exists and is writable; refuse to replace unless asked."""
    text = str(path).strip()
    if not text:
        raise ExportError("give a file name")
    p = Path(text).expanduser()
    if p.exists() and p.is_dir():
        raise ExportError(f"{p}: is a directory")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise ExportError(f"{parent}: no such directory")
    if not os.access(parent, os.W_OK):
        raise ExportError(f"{parent}: not writable")
    if p.name.endswith(".wal") or (os.path.lexists(p) and is_duckdb_file(p)):
        raise ExportError(f"{p}: is a DuckDB database or its WAL; an export never replaces one")
    if os.path.lexists(p) and not overwrite:
        raise ExportError(f"{p}: already exists")
    return p


def is_duckdb_file(path: Path) -> bool:
    """A DuckDB database (by its header, through a link too) or a write-ahead log (`*.wal`)."""
    if path.name.endswith(".wal"):
        return True
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError:
        return False
    return len(head) >= 12 and head[8:12] == b"DUCK"


# -- JSON --------------------------------------------------------------------------------------


def _json_value(v: Any) -> str:
    """One value as JSON text. Decimals stay exact numbers; instants are ISO 8601 strings."""
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else "null"
    if isinstance(v, Decimal):
        return str(v) if v.is_finite() else "null"
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, (dt.datetime, dt.date, dt.time)):
        return '"' + v.isoformat() + '"'
    if isinstance(v, dt.timedelta):
        return json.dumps(str(v))
    if isinstance(v, (bytes, bytearray, memoryview)):
        return '"' + base64.b64encode(bytes(v)).decode("ascii") + '"'
    if isinstance(v, uuid.UUID):
        return '"' + str(v) + '"'
    if isinstance(v, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{_json_value(x)}" for k, x in v.items()) + "}"
    if isinstance(v, (list, tuple)):
        if (
            v
            and isinstance(v[0], tuple)
            and len(v[0]) == 2
            and all(isinstance(x, tuple) for x in v)
        ):
            # Arrow maps come back as lists of (key, value) pairs
            return "{" + ",".join(f"{json.dumps(str(k))}:{_json_value(x)}" for k, x in v) + "}"
        return "[" + ",".join(_json_value(x) for x in v) + "]"
    return json.dumps(str(v), ensure_ascii=False)


def _json_rows(batch: pa.RecordBatch) -> Iterable[str]:
    names = [json.dumps(n, ensure_ascii=False) for n in batch.schema.names]
    columns = [col.to_pylist() for col in batch.columns]
    for i in range(batch.num_rows):
        yield (
            "{"
            + ",".join(f"{n}:{_json_value(c[i])}" for n, c in zip(names, columns, strict=True))
            + "}"
        )


# -- CSV ---------------------------------------------------------------------------------------


def _csv_compatible(schema: pa.Schema) -> tuple[pa.Schema, list[int]]:
    """The schema pyarrow's CSV writer accepts: nested columns become JSON text."""
    nested: list[int] = []
    fields = []
    for i, f in enumerate(schema):
        t = f.type
        if (
            pa.types.is_nested(t)
            or pa.types.is_dictionary(t)
            or isinstance(t, pa.ExtensionType)
            or pa.types.is_binary(t)
            or pa.types.is_large_binary(t)
            or t == pa.binary_view()
        ):
            nested.append(i)
            fields.append(pa.field(f.name, pa.string()))
        else:
            fields.append(f)
    return pa.schema(fields), nested


def _to_csv_batch(batch: pa.RecordBatch, schema: pa.Schema, nested: list[int]) -> pa.RecordBatch:
    if not nested:
        return batch
    arrays = list(batch.columns)
    for i in nested:
        values = arrays[i].to_pylist()
        arrays[i] = pa.array(
            [None if v is None else (_json_text(v)) for v in values], type=pa.string()
        )
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _json_text(v: Any) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(v)).decode("ascii")
    return _json_value(v)


# -- writing -----------------------------------------------------------------------------------


def write(
    batches: Iterable[pa.RecordBatch],
    schema: pa.Schema,
    path: str | os.PathLike[str],
    fmt: str | None = None,
    *,
    cancel: threading.Event | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Stream `batches` (all of `schema`) into `path` in `fmt`; returns the number of rows written.

    The file is written beside `path` and renamed into place when complete; when `cancel` is set
    (checked between batches) or anything fails, the partial file is removed and `path` untouched.
    """
    p = Path(path)
    kind = format_for(p, fmt)
    if p.name.endswith(".wal") or (os.path.lexists(p) and is_duckdb_file(p)):
        raise ExportError(f"{p}: is a DuckDB database or its WAL; an export never replaces one")
    # a new file of ours: O_EXCL|O_NOFOLLOW on an unpredictable name, so a name or link planted
    # in a shared directory makes it fail instead of being written through (#15.1)
    tmp = p.with_name(f".{p.name}.{os.getpid()}.{secrets.token_hex(4)}.partial")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666)
    except OSError as exc:
        raise ExportError(f"{p}: cannot write: {exc.strerror or exc}") from None
    rows = 0
    try:
        if kind in ("parquet", "csv"):
            with os.fdopen(fd, "wb") as raw:
                write_binary = _write_parquet if kind == "parquet" else _write_csv
                rows = write_binary(batches, schema, raw, cancel, progress)
        else:
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
                rows = _write_json(batches, fh, kind == "jsonl", cancel, progress)
        os.replace(tmp, p)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise ExportError(f"{p}: cannot write: {exc.strerror or exc}") from None
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return rows


def _check(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled()


def _write_parquet(batches, schema, tmp, cancel, progress) -> int:  # type: ignore[no-untyped-def]
    import pyarrow.parquet as pq

    rows = 0
    with pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
        for batch in batches:
            _check(cancel)
            if batch.num_rows:
                writer.write_batch(batch)
            rows += batch.num_rows
            if progress:
                progress(rows)
    return rows


def _write_csv(batches, schema, tmp, cancel, progress) -> int:  # type: ignore[no-untyped-def]
    import pyarrow.csv as pcsv

    out_schema, nested = _csv_compatible(schema)
    rows = 0
    with pcsv.CSVWriter(tmp, out_schema) as writer:
        for batch in batches:
            _check(cancel)
            if batch.num_rows:
                writer.write_batch(_to_csv_batch(batch, out_schema, nested))
            rows += batch.num_rows
            if progress:
                progress(rows)
    return rows


def _write_json(batches, fh: IO[str], lines: bool, cancel, progress) -> int:  # type: ignore[no-untyped-def]
    rows = 0
    if not lines:
        fh.write("[")
    first = True
    for batch in batches:
        _check(cancel)
        for row in _json_rows(batch):
            if lines:
                fh.write(row + "\n")
            else:
                fh.write(("\n" if first else ",\n") + row)
            first = False
        rows += batch.num_rows
        if progress:
            progress(rows)
    if not lines:
        fh.write("\n]\n" if not first else "]\n")
    return rows
