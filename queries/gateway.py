"""The gateway: the one typed way from the interface to the data.

`Gateway` is a Protocol that every kind of ecotop data source implements:

- `LocalGateway`  an ecotop DuckDB file opened by this process (read-only, or as its writer);
- `ServedGateway` a file held by a writer in another process, read over Arrow Flight (store.remote);
- a lake (store.lake*) implements the same face.

The interface (ecotop.tui) reaches the data only through a Gateway (and the query functions of this
package run on one of its cursors); it never imports ecotop.store. Every method may block (disk,
DuckDB, a socket): call them from worker threads only. In tests (`ECOTOP_UI_THREAD_GUARD=1`) each
method raises `UIThreadViolation` when it runs on the app's thread (see store/threadguard.py).

One piece over ~500 lines: the Protocol and its implementations side by side, so a change to the
face shows at once in every backend that must follow it.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Protocol, overload

from ecotop.queries import errors
from ecotop.queries.catalogue import Catalogue, read_catalogue
from ecotop.store import threadguard
from ecotop.store.db import Database, Limits, open_db
from ecotop.store.errors import StoreError
from ecotop.store.threadguard import UIThreadViolation

if TYPE_CHECKING:  # Arrow, the guard and Flight load on first use (start-up time)
    import pyarrow as pa

    from ecotop.store.db import DuckCursor
    from ecotop.store.guard import AdhocResult
    from ecotop.store.remote import RemoteDatabase
else:

    def __getattr__(name: str) -> Any:
        if name == "AdhocResult":  # the guard (and sqlglot) load on first use
            from ecotop.store.guard import AdhocResult

            return AdhocResult
        raise AttributeError(name)


__all__ = [
    "AdhocResult",
    "BatchStream",
    "Catalogue",
    "Cursor",
    "Gateway",
    "Limits",
    "LocalGateway",
    "ServedGateway",
    "StoreError",
    "UIThreadViolation",
    "WriterStatus",
    "arm_ui_thread_guard",
    "disarm_ui_thread_guard",
    "errors",
    "open_gateway",
    "split_statements",
]


# -- what a gateway hands out -----------------------------------------------------------------------


class Result(Protocol):
    """The rows of one statement run with `Cursor.execute`."""

    @property
    def description(self) -> Any: ...

    def fetchall(self) -> list[tuple[Any, ...]]: ...

    def fetchone(self) -> tuple[Any, ...] | None: ...


class Cursor(Protocol):
    """One worker thread's handle on the data: what the query functions of this package use.

    Take one per worker from `Gateway.cursor()` and close it when done (`with` works).
    `interrupt()` and `query_progress()` may be called from another thread (they do not block).
    """

    def execute(self, query: str, parameters: Any = None, /) -> Result: ...

    def sql(self, query: str, params: Any = None, /) -> Any: ...

    def interrupt(self) -> None: ...

    def query_progress(self) -> float: ...

    def close(self) -> None: ...

    def __enter__(self) -> Cursor: ...

    def __exit__(self, *exc: object) -> None: ...


class BatchStream(Protocol):
    """The rows of one ad-hoc statement as Arrow batches (for export); always close it."""

    schema: pa.Schema

    def __iter__(self) -> Iterator[pa.RecordBatch]: ...

    def close(self) -> None: ...


class Stoppable(Protocol):
    """Something running in the background (serving the file to other processes)."""

    def stop(self) -> None: ...


@dataclass(frozen=True)
class WriterStatus:
    """Who writes the data a gateway reads, and whether that process still answers.

    `pid` is the serving writer's PID for a served file (None when this process reads the file
    itself); `alive` is False once that writer went away.
    """

    pid: int | None
    alive: bool = True


class Gateway(Protocol):
    """The face every data source shows the interface. Every method may block: workers only."""

    @property
    def path(self) -> Path:
        """The file (or lake) this gateway reads."""
        ...

    @property
    def read_only(self) -> bool:
        """True unless this process holds the file for writing."""
        ...

    @property
    def writer_pid(self) -> int | None:
        """The PID of the other process serving the data (None: this process reads it itself)."""
        ...

    @property
    def immutable(self) -> bool:
        """True when no process can change the data while this gateway is open."""
        ...

    def cursor(self) -> Cursor:
        """A cursor for one worker thread (the query functions of this package run on it)."""
        ...

    def named(self, name: str, **params: Any) -> pa.Table:
        """Run the named query `pillar/name` (queries/<pillar>/<name>.sql) with its parameters."""
        ...

    def adhoc(
        self,
        sql: str,
        limit: int | None,
        *,
        cursor: Cursor | None = None,
        timeout_s: float | None = None,
    ) -> AdhocResult:
        """Run one statement of ad-hoc SQL through the guard (read only), keeping `limit` rows.

        `cursor` (from `cursor()`) lets the caller interrupt it or read its progress; `timeout_s`
        interrupts it after that long (then TimeoutError).
        """
        ...

    def stream(self, sql: str, *, cursor: Cursor | None = None) -> BatchStream:
        """Run one statement of ad-hoc SQL through the guard without a row limit, as batches."""
        ...

    def catalogue(self) -> Catalogue:
        """Tables, columns, views, functions and keywords (SQL completion, the catalogue tree)."""
        ...

    def as_of(self, *, live: bool, now: datetime | None = None) -> datetime | None:
        """The end of the windows: the minute after `now` when live, else after the newest event."""
        ...

    def meta(self) -> dict[str, str]:
        """Every key of the file's ecotop_meta table."""
        ...

    def writer(self) -> WriterStatus:
        """The serving writer and whether it still answers (a socket call for a served file)."""
        ...

    def serve(self) -> Stoppable | None:
        """Serve the data to other ecotop processes while this one writes it (else None)."""
        ...

    def close(self) -> None:
        """Release the file or the connection (idempotent)."""
        ...


# -- the tripwire --------------------------------------------------------------------------------


def arm_ui_thread_guard() -> None:
    """Called by the app on its own thread: from now on, data work there raises (tests only)."""
    threadguard.arm()


def disarm_ui_thread_guard() -> None:
    """The app ended: its thread may do anything again."""
    threadguard.disarm()


def _check(what: str) -> None:
    threadguard.check(what)


# -- a local file ------------------------------------------------------------------------------------


class LocalCursor:
    """A DuckDB cursor of this process, with the interface-thread tripwire on every call."""

    def __init__(self, raw: DuckCursor) -> None:
        self.raw = raw

    def execute(self, query: str, parameters: Any = None) -> Result:
        _check("DuckDB execute")
        return self.raw.execute(query, parameters)

    def sql(self, query: str, params: Any = None) -> Any:
        _check("DuckDB sql")
        return self.raw.sql(query, params=params)

    def interrupt(self) -> None:
        # Non-blocking: sets a flag the running query checks; safe from any thread.
        self.raw.interrupt()

    def query_progress(self) -> float:
        # Non-blocking: reads the running query's progress counter; safe from any thread.
        return float(self.raw.query_progress())

    def close(self) -> None:
        _check("DuckDB cursor close")
        with contextlib.suppress(Exception):
            self.raw.close()

    def __enter__(self) -> LocalCursor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _raw(cursor: Cursor | None, db: Database) -> tuple[DuckCursor, bool]:
    """The DuckDB cursor under `cursor` (or a new one, to close: the bool)."""
    if isinstance(cursor, LocalCursor):
        return cursor.raw, False
    return db.cursor(), True


def _with_timeout(cursor: Cursor, timeout_s: float | None) -> threading.Timer | None:
    if timeout_s is None:
        return None
    timer = threading.Timer(timeout_s, cursor.interrupt)
    timer.daemon = True
    timer.start()
    return timer


class LocalGateway:
    """An ecotop file opened by this process (`store.Database`)."""

    def __init__(self, db: Database) -> None:
        self.database = db  # for the writer side (feeds, serving): never the interface's business

    @property
    def path(self) -> Path:
        return self.database.path

    @property
    def read_only(self) -> bool:
        return self.database.read_only

    @property
    def writer_pid(self) -> int | None:
        return None

    @property
    def immutable(self) -> bool:
        # a local read-only open: DuckDB lets no process open the file for writing meanwhile;
        # a lake is written by other processes and hosts all the while (store/lake.py)
        return self.database.read_only and not self.database.is_lake

    def cursor(self) -> LocalCursor:
        _check("DuckDB cursor")
        return LocalCursor(self.database.cursor())

    def named(self, name: str, **params: Any) -> pa.Table:
        _check(f"query {name}")
        from ecotop.queries.registry import get

        with self.cursor() as cur:
            return get(name).run(cur, **params)

    def adhoc(
        self,
        sql: str,
        limit: int | None,
        *,
        cursor: Cursor | None = None,
        timeout_s: float | None = None,
    ) -> AdhocResult:
        _check("ad-hoc SQL")
        from ecotop.store import guard

        raw, own = _raw(cursor, self.database)
        timer = _with_timeout(LocalCursor(raw), timeout_s)
        try:
            return guard.run(raw, sql, limit)
        except StoreError:
            if timer is not None and timer.finished.is_set():
                raise TimeoutError(f"took longer than {timeout_s:g} s; stopped") from None
            raise
        finally:
            if timer is not None:
                timer.cancel()
            if own:
                raw.close()

    def stream(self, sql: str, *, cursor: Cursor | None = None) -> BatchStream:
        _check("ad-hoc SQL")
        from ecotop.store import guard

        raw, own = _raw(cursor, self.database)
        try:
            s = guard.stream(raw, sql, None)
        except BaseException:
            if own:
                raw.close()
            raise
        return _Owned(s, raw if own else None)

    def catalogue(self) -> Catalogue:
        _check("catalogue")
        with self.cursor() as cur:
            return read_catalogue(cur)

    def as_of(self, *, live: bool, now: datetime | None = None) -> datetime | None:
        _check("as-of")
        from ecotop.queries.kpis import resolve_as_of

        if live:
            return resolve_as_of(None, live=True, now=now)
        with self.cursor() as cur:
            return resolve_as_of(cur, live=False)

    def meta(self) -> dict[str, str]:
        _check("meta")
        return self.database.meta()

    def writer(self) -> WriterStatus:
        return WriterStatus(None, True)

    def serve(self) -> Stoppable | None:
        _check("serve")
        if self.database.read_only:
            return None
        from ecotop.queries.registry import get
        from ecotop.store.server import Serving

        return Serving(self.database, named=lambda name: get(name).sql)

    def close(self) -> None:
        _check("close")
        self.database.close()


class _Owned:
    """A guard stream that also closes the cursor it was started on."""

    def __init__(self, inner: Any, raw: DuckCursor | None) -> None:
        self._inner = inner
        self._raw = raw
        self.schema: pa.Schema = inner.schema

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        return iter(self._inner)

    def close(self) -> None:
        self._inner.close()
        if self._raw is not None:
            with contextlib.suppress(Exception):
                self._raw.close()
            self._raw = None

    def __enter__(self) -> _Owned:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


# -- a file served by its writer --------------------------------------------------------------------


class _TableStream:
    """A whole Arrow table (a served file's export) as a BatchStream."""

    def __init__(self, table: pa.Table) -> None:
        self._table = table
        self.schema: pa.Schema = table.schema

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        return iter(self._table.to_batches(65_536))

    def close(self) -> None:
        pass


class ServedGateway:
    """A file held by a writer in another process, read over Arrow Flight (store.remote).

    Every statement runs in the writer, read-only: named queries by name, anything else through the
    writer's SQL guard.
    """

    def __init__(self, db: RemoteDatabase) -> None:
        self.database = db

    @property
    def path(self) -> Path:
        return self.database.path

    @property
    def read_only(self) -> bool:
        return True

    @property
    def writer_pid(self) -> int | None:
        return self.database.pid

    @property
    def immutable(self) -> bool:
        return False

    def cursor(self) -> Cursor:
        _check("Flight cursor")
        return self.database.cursor()

    def named(self, name: str, **params: Any) -> pa.Table:
        _check(f"query {name}")
        from ecotop.queries.registry import get

        return get(name).run(self.database.cursor(), **params)

    def adhoc(
        self,
        sql: str,
        limit: int | None,
        *,
        cursor: Cursor | None = None,
        timeout_s: float | None = None,
    ) -> AdhocResult:
        _check("ad-hoc SQL")
        # the writer bounds the statement's time itself (store.server); the cursor cannot interrupt
        t0 = time.perf_counter()
        table, truncated = self.database.cursor().adhoc(sql, limit)
        elapsed = (time.perf_counter() - t0) * 1000
        from ecotop.store.guard import AdhocResult

        return AdhocResult(table, truncated, elapsed, [(f.name, str(f.type)) for f in table.schema])

    def stream(self, sql: str, *, cursor: Cursor | None = None) -> BatchStream:
        _check("ad-hoc SQL")
        table, _ = self.database.cursor().adhoc(sql, None)
        return _TableStream(table)

    def catalogue(self) -> Catalogue:
        _check("catalogue")
        return read_catalogue(self.database.cursor())

    def as_of(self, *, live: bool, now: datetime | None = None) -> datetime | None:
        _check("as-of")
        from ecotop.queries.kpis import resolve_as_of

        if live:
            return resolve_as_of(None, live=True, now=now)
        return resolve_as_of(self.database.cursor(), live=False)

    def meta(self) -> dict[str, str]:
        _check("meta")
        return self.database.meta()

    def writer(self) -> WriterStatus:
        _check("writer liveness")
        from ecotop.store.remote import pid_alive

        pid = self.database.pid
        return WriterStatus(pid, pid_alive(pid) and self.database.ping())

    def serve(self) -> Stoppable | None:
        return None

    def close(self) -> None:
        self.database.close()


# -- opening ------------------------------------------------------------------------------------------


@overload
def open_gateway(
    path: str | os.PathLike[str], *, write: Literal[True], limits: Limits | None = None
) -> LocalGateway: ...


@overload
def open_gateway(
    path: str | os.PathLike[str], *, write: bool = False, limits: Limits | None = None
) -> Gateway: ...


def open_gateway(
    path: str | os.PathLike[str], *, write: bool = False, limits: Limits | None = None
) -> Gateway:
    """Open an ecotop file: through its writer when another process serves it, else directly.

    Raises a StoreError with a one-line message (missing, not a database, locked, schema...).
    """
    _check("open")
    db = open_db(path, write=write, limits=limits)
    if isinstance(db, Database):
        return LocalGateway(db)
    return ServedGateway(db)


if TYPE_CHECKING:  # both implementations satisfy the Protocol (checked by mypy, costs nothing)

    def _conforms(local: LocalGateway, served: ServedGateway) -> tuple[Gateway, Gateway]:
        return local, served


def split_statements(sql: str) -> list[str]:
    """The statements of `sql`, each checked by the SQL guard (SqlRefused/SqlError say why not).

    Parses with DuckDB's parser: call it from a worker like the rest of this module.
    """
    _check("SQL check")
    from ecotop.store import guard

    return list(guard.check(sql))


def ui_thread_violations() -> list[str]:
    """What ran on the app's thread since it armed the tripwire (tests assert this is empty)."""
    return list(threadguard.violations)
