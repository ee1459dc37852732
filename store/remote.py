"""One writer, many readers: finding the process that serves a file, and talking to it.

While a process holds an ecotop file open for writing, DuckDB lets no other process open it, not even
read-only. So that writer serves the file over Arrow Flight on a unix socket beside it, and every other
ecotop process on that file talks to it through `RemoteDatabase`, which offers the cursor surface the
queries layer uses (`sql(...).to_arrow_table()`, `execute(...).fetchall()`, named queries by name).

Files beside FILE (all removed when the writer exits cleanly; a killed writer's are detected as stale):
  FILE.ecotop-serve.json   {"pid", "socket", "started", "version"}; readable like FILE
  FILE.ecotop-secret       a per-start random token; readable only by those who may read FILE
  FILE.ecotop.sock         the unix socket (or a short path under the temp dir when FILE's is too long)
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import os
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa

from ecotop.store import errors, threadguard
from ecotop.store.errors import StoreError

INFO_SUFFIX = ".ecotop-serve.json"
SECRET_SUFFIX = ".ecotop-secret"
SOCK_SUFFIX = ".ecotop.sock"
ERROR_PREFIX = "ecotop-error:"


def info_path(db_path: Path) -> Path:
    """Where the serving writer describes itself."""
    return db_path.with_name(db_path.name + INFO_SUFFIX)


def secret_path(db_path: Path) -> Path:
    """Where the serving writer keeps its per-start secret."""
    return db_path.with_name(db_path.name + SECRET_SUFFIX)


class WriterGone(StoreError):
    """The process that served the file went away (exited or was killed)."""

    def __init__(self, path: Path, pid: int | None) -> None:
        super().__init__(f"{path}: the writer (PID {pid}) that served this file went away")
        self.path = path
        self.pid = pid


class AccessDenied(StoreError):
    """The serving writer refused this client (no or wrong secret)."""


@dataclass(frozen=True)
class ServerInfo:
    """What a serving writer published beside the file."""

    pid: int
    socket: str
    started: str
    version: str

    @property
    def location(self) -> str:
        return f"grpc+unix://{self.socket}"


def pid_alive(pid: int) -> bool:
    """True when a process with this PID exists (signal 0 probe)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_info(db_path: Path) -> ServerInfo | None:
    """The writer's published info, or None when there is none or it is stale (PID gone, no socket)."""
    p = info_path(db_path)
    try:
        raw = json.loads(p.read_text())
        info = ServerInfo(
            int(raw["pid"]),
            str(raw["socket"]),
            str(raw.get("started", "")),
            str(raw.get("version", "")),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not pid_alive(info.pid) or not Path(info.socket).exists():
        return None
    return info


# -- encoding of parameters and errors --------------------------------------------------------------


def encode_value(v: Any) -> Any:
    """JSON-safe form of a bound parameter value (datetimes, decimals, bytes keep their type)."""
    if isinstance(v, dt.datetime):
        return {"$dt": v.isoformat()}
    if isinstance(v, dt.date):
        return {"$date": v.isoformat()}
    if isinstance(v, dt.timedelta):
        return {"$td": v.total_seconds()}
    if isinstance(v, Decimal):
        return {"$dec": str(v)}
    if isinstance(v, bytes):
        return {"$b64": base64.b64encode(v).decode()}
    if isinstance(v, (list, tuple)):
        return [encode_value(x) for x in v]
    return v


def decode_value(v: Any) -> Any:
    """Inverse of encode_value."""
    if isinstance(v, dict) and len(v) == 1:
        ((k, x),) = v.items()
        if k == "$dt":
            return dt.datetime.fromisoformat(x)
        if k == "$date":
            return dt.date.fromisoformat(x)
        if k == "$td":
            return dt.timedelta(seconds=x)
        if k == "$dec":
            return Decimal(x)
        if k == "$b64":
            return base64.b64decode(x)
    if isinstance(v, list):
        return [decode_value(x) for x in v]
    return v


def encode_params(params: Any) -> Any:
    """Parameters (dict or list) in JSON-safe form."""
    if params is None:
        return None
    if isinstance(params, dict):
        return {k: encode_value(v) for k, v in params.items()}
    return [encode_value(v) for v in params]


def decode_params(params: Any) -> Any:
    """Inverse of encode_params."""
    if params is None:
        return None
    if isinstance(params, dict):
        return {k: decode_value(v) for k, v in params.items()}
    return [decode_value(v) for v in params]


def encode_error(exc: StoreError) -> str:
    """An error as it travels to a client: class name and one-line message."""
    return ERROR_PREFIX + json.dumps({"type": type(exc).__name__, "message": str(exc)})


def decode_error(text: str) -> StoreError | None:
    """The StoreError a server encoded into a Flight error message, rebuilt client-side."""
    i = text.find(ERROR_PREFIX)
    if i < 0:
        return None
    raw = text[i + len(ERROR_PREFIX) :]
    try:
        obj, _ = json.JSONDecoder().raw_decode(raw)
    except ValueError:
        return None
    cls = getattr(errors, obj.get("type", ""), None) or globals().get(obj.get("type", ""))
    if not (isinstance(cls, type) and issubclass(cls, StoreError)):
        cls = StoreError
    exc = cls.__new__(cls)
    StoreError.__init__(exc, obj.get("message", "error"))
    return exc


# -- the client ---------------------------------------------------------------------------------------


class _Result:
    """The part of a DuckDB relation/result the queries layer uses, over an Arrow table."""

    def __init__(self, table: pa.Table) -> None:
        self._table = table
        self._rows: list[tuple[Any, ...]] | None = None
        self._pos = 0

    def to_arrow_table(self) -> pa.Table:
        return self._table

    def arrow(self) -> pa.Table:
        return self._table

    def pl(self) -> Any:
        import polars as pl

        return pl.from_arrow(self._table)

    def _all(self) -> list[tuple[Any, ...]]:
        if self._rows is None:
            cols = [c.to_pylist() for c in self._table.columns]
            self._rows = list(zip(*cols, strict=True)) if cols else []
        return self._rows

    def fetchall(self) -> list[tuple[Any, ...]]:
        rows = self._all()[self._pos :]
        self._pos = len(self._all())
        return rows

    def fetchone(self) -> tuple[Any, ...] | None:
        rows = self._all()
        if self._pos >= len(rows):
            return None
        self._pos += 1
        return rows[self._pos - 1]

    def fetchmany(self, size: int = 1) -> list[tuple[Any, ...]]:
        rows = self._all()[self._pos : self._pos + size]
        self._pos += len(rows)
        return rows

    @property
    def columns(self) -> list[str]:
        return list(self._table.column_names)

    @property
    def description(self) -> list[tuple[Any, ...]]:
        return [(f.name, str(f.type), None, None, None, None, None) for f in self._table.schema]

    def limit(self, n: int) -> _Result:
        return _Result(self._table.slice(0, n))

    def fetch_record_batch(self, rows_per_batch: int = 100_000) -> pa.RecordBatchReader:
        return pa.RecordBatchReader.from_batches(
            self._table.schema, self._table.to_batches(rows_per_batch)
        )


class RemoteCursor:
    """A cursor whose statements run in the writer process. Every statement is read-only there:
    named queries run by name; any other SQL passes the server's SQL guard."""

    def __init__(self, db: RemoteDatabase) -> None:
        self._db = db
        self._last: _Result | None = None

    def run_named(self, name: str, params: dict[str, Any]) -> pa.Table:
        """Run a named query of the registry in the writer; returns its Arrow table."""
        return self._db.call({"kind": "named", "name": name, "params": encode_params(params)})

    def sql(self, query: str, params: Any = None, **_: Any) -> _Result:
        return _Result(
            self._db.call({"kind": "sql", "sql": query, "params": encode_params(params)})
        )

    def query(self, query: str, params: Any = None, **kw: Any) -> _Result:
        return self.sql(query, params, **kw)

    def execute(self, query: str, params: Any = None) -> _Result:
        self._last = self.sql(query, params)
        return self._last

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self._last.fetchall() if self._last else []

    def fetchone(self) -> tuple[Any, ...] | None:
        return self._last.fetchone() if self._last else None

    def adhoc(self, sql: str, limit: int | None) -> tuple[pa.Table, bool]:
        """Run guarded ad-hoc SQL with a row limit in the writer: (table, truncated)."""
        ask = None if limit is None else limit + 1  # one row more tells whether the limit cut it
        table = self._db.call({"kind": "adhoc", "sql": sql, "limit": ask})
        cap = int((table.schema.metadata or {}).get(b"ecotop.limit", b"0") or 0)
        truncated = (
            table.num_rows > limit if limit is not None else bool(cap) and table.num_rows >= cap
        )
        if truncated:
            table = table.slice(0, limit)
        return table.replace_schema_metadata(None), truncated

    def adhoc_stream(self, sql: str, limit: int | None) -> Any:
        """Stream guarded ad-hoc SQL from the writer: a pyarrow RecordBatchReader-like reader."""
        return self._db.reader({"kind": "adhoc", "sql": sql, "limit": limit})

    def interrupt(self) -> None:
        """Nothing to do here: the writer bounds each statement's time itself (store.server)."""

    def query_progress(self) -> float:
        """Unknown for a statement running in the writer (-1, as DuckDB says when idle)."""
        return -1.0

    def close(self) -> None:
        pass

    def __enter__(self) -> RemoteCursor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RemoteDatabase:
    """An ecotop file served by another process (the writer): the same face as store.Database."""

    read_only = True
    remote = True
    is_lake = False

    def __init__(self, path: Path, info: ServerInfo, secret: bytes, timeout: float = 60.0) -> None:
        import pyarrow.flight as fl

        self.path = path
        self.info = info
        self._secret = secret
        self._timeout = timeout
        self._client = fl.connect(info.location)
        self._fl = fl
        # one id per connection: the writer's per-client limit counts this open, not every process
        self._client_id = f"{os.getpid()}-{id(self):x}-{time.monotonic_ns() & 0xFFFFFF:x}".encode()

    @property
    def pid(self) -> int:
        """The serving writer's PID (the status bar says "via PID n")."""
        return self.info.pid

    def _options(self) -> Any:
        return self._fl.FlightCallOptions(
            headers=[
                (b"authorization", b"Bearer " + self._secret),
                (b"x-ecotop-client", self._client_id),
            ],
            timeout=self._timeout,
        )

    def reader(self, ticket: dict[str, Any]) -> Any:
        """A Flight stream reader for one request; errors come back as the StoreError they were."""
        threadguard.check("Flight call")
        fl = self._fl
        try:
            return self._client.do_get(fl.Ticket(json.dumps(ticket).encode()), self._options())
        except fl.FlightUnauthenticatedError as exc:
            raise AccessDenied(
                f"{self.path}: the writer (PID {self.pid}) refused access: {_first_line(exc)}"
            ) from None
        except fl.FlightUnavailableError:
            raise WriterGone(self.path, self.pid) from None
        except fl.FlightError as exc:
            err = decode_error(str(exc))
            if err is not None:
                raise err from None
            if not pid_alive(self.pid):
                raise WriterGone(self.path, self.pid) from None
            raise errors.SqlError(f"{self.path}: via PID {self.pid}: {_first_line(exc)}") from None
        except OSError:
            raise WriterGone(self.path, self.pid) from None

    def call(self, ticket: dict[str, Any]) -> pa.Table:
        """Run one request and read its whole result."""
        reader = self.reader(ticket)
        try:
            return reader.read_all()
        except self._fl.FlightError as exc:
            err = decode_error(str(exc))
            if err is not None:
                raise err from None
            raise WriterGone(self.path, self.pid) from None

    def cursor(self) -> RemoteCursor:
        return RemoteCursor(self)

    @property
    def con(self) -> RemoteCursor:
        return RemoteCursor(self)

    def meta(self) -> dict[str, str]:
        rows = self.cursor().execute("SELECT key, value FROM ecotop_meta").fetchall()
        return dict(rows)

    @property
    def generated(self) -> bool:
        return self.meta().get("generated") == "true"

    def ping(self) -> bool:
        """True when the writer still answers."""
        try:
            self.call({"kind": "ping"})
            return True
        except StoreError:
            return False

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._client.close()

    def __enter__(self) -> RemoteDatabase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def connect_remote(db_path: Path, wait: float = 0.0) -> RemoteDatabase | None:
    """A client of the writer serving `db_path`, or None when no live writer serves it.

    Raises AccessDenied when a writer serves the file but this user cannot read its secret.
    """
    deadline = time.monotonic() + wait
    while True:
        info = read_info(db_path)
        if info is not None:
            break
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.05)
    try:
        secret = secret_path(db_path).read_bytes().strip()
    except PermissionError:
        raise AccessDenied(
            f"{db_path}: served by PID {info.pid}, but you may not read its secret "
            f"({secret_path(db_path).name})"
        ) from None
    except OSError:
        return None
    remote = RemoteDatabase(db_path, info, secret)
    # A live PID proves nothing (PIDs recycle): only the socket answering with the secret does.
    if not remote.ping():
        remote.close()
        return None
    return remote
