"""The writer serves its file: Arrow Flight on a unix socket beside it (see store/remote.py).

Requests (the Flight ticket is JSON):
  {"kind": "ping"}                                  liveness
  {"kind": "named", "name": N, "params": {...}}     a named query of the registry, by name
  {"kind": "sql", "sql": S, "params": ...}          read-only SQL, through the SQL guard, under
                                                    the same limits as adhoc
  {"kind": "adhoc", "sql": S, "limit": n}           an ad-hoc statement, guarded, row-limited,
                                                    under the per-client concurrency and time limits
Every request and its work obey the limits: per client (its connection's x-ecotop-client id) and in
total, a time limit, a row limit; a client that disconnects has its statement interrupted. A bad
ticket gets one line back; a failure's details go to the writer's stderr, never to the client.
Every request must carry `authorization: Bearer <secret>`; the secret is readable only by those who
may read the file. Nothing that arrives can write, change settings or read files: named queries are
this build's own SQL, everything else passes the guard, and every connection is locked down.

One piece over ~500 lines: the Flight server, its request kinds and the limits they share (per
client, in total, time and rows) are one state machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.flight as fl

from ecotop.store import errors, guard
from ecotop.store.db import Database
from ecotop.store.errors import StoreError
from ecotop.store.remote import (
    decode_params,
    encode_error,
    info_path,
    secret_path,
)

SOCKET_PATH_MAX = 100  # sun_path is 108 bytes on Linux
MAX_TICKET_BYTES = 1_000_000


@dataclass(frozen=True)
class ServeLimits:
    """Limits for SQL through the socket (ECOTOP_SERVE_MAX_ADHOC per client, ECOTOP_SERVE_MAX_TOTAL,
    ECOTOP_SERVE_ADHOC_TIMEOUT seconds, ECOTOP_SERVE_MAX_ROWS override the defaults)."""

    max_adhoc_per_client: int = field(
        default_factory=lambda: int(os.environ.get("ECOTOP_SERVE_MAX_ADHOC", "2"))
    )
    adhoc_timeout_s: float = field(
        default_factory=lambda: float(os.environ.get("ECOTOP_SERVE_ADHOC_TIMEOUT", "30"))
    )
    adhoc_row_limit: int = field(
        default_factory=lambda: int(os.environ.get("ECOTOP_SERVE_MAX_ROWS", "1000000"))
    )
    # every client together (ECOTOP_SERVE_MAX_TOTAL): ids are chosen by clients
    max_adhoc_total: int = field(
        default_factory=lambda: int(os.environ.get("ECOTOP_SERVE_MAX_TOTAL", "6"))
    )
    # named-query results are shared between identical requests for this long (ECOTOP_SERVE_CACHE)
    named_cache_s: float = field(
        default_factory=lambda: float(os.environ.get("ECOTOP_SERVE_CACHE", "0.5"))
    )


def make_socket_dir(gid: int, group_readable: bool) -> Path:
    """A new directory for the socket, created exclusively under the temp dir (mkdtemp: a random
    name nobody can pre-empt), mode 0750 with the database file's group (0700 when the file is not
    group-readable), short enough for the 108-byte socket path limit."""
    base = tempfile.gettempdir()
    if len(base) > SOCKET_PATH_MAX - 30:
        base = "/tmp"
    _sweep_socket_dirs(Path(base))
    d = Path(tempfile.mkdtemp(prefix=SOCKET_DIR_PREFIX, dir=base))
    with contextlib.suppress(PermissionError):
        os.chown(d, -1, gid)
    os.chmod(d, 0o750 if group_readable else 0o700)
    return d


SOCKET_DIR_PREFIX = "ecotop-sock-"


def _sweep_socket_dirs(base: Path) -> None:
    """Remove this user's socket directories that killed writers left (nobody answers there).

    Only directories of this user, not links, a minute old at least; a socket that accepts a
    connection is a live writer's.
    """
    import socket as so
    import stat

    with contextlib.suppress(OSError):
        for entry in os.scandir(base):
            if not entry.name.startswith(SOCKET_DIR_PREFIX):
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
                continue
            if time.time() - st.st_mtime < 60:  # a writer starting now has not bound its socket yet
                continue
            sock = Path(entry.path) / "s.sock"
            live = False
            with contextlib.suppress(OSError), so.socket(so.AF_UNIX, so.SOCK_STREAM) as probe:
                probe.settimeout(0.2)
                probe.connect(str(sock))
                live = True
            if not live:
                shutil.rmtree(entry.path, ignore_errors=True)


def create_exclusive(path: Path, data: bytes, mode: int, gid: int) -> None:
    """Write a new file at `path`: O_CREAT|O_EXCL|O_NOFOLLOW, so a planted file or link (even a
    dangling one) makes it fail instead of being written through; group set before the mode."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with contextlib.suppress(PermissionError):
            os.fchown(fd, -1, gid)
        os.fchmod(fd, mode)
        os.write(fd, data)
    finally:
        os.close(fd)


def _remove_own(path: Path) -> None:
    """Remove a file of ours beside the database: only a regular file, never a link's target."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)  # unlink of a link removes the link, never what it points to


class _Client(fl.ServerMiddleware):  # type: ignore[misc]
    """The authenticated call's client id (its connection's x-ecotop-client header)."""

    def __init__(self, client_id: str) -> None:
        super().__init__()
        self.client_id = client_id


class _Auth(fl.ServerMiddlewareFactory):  # type: ignore[misc]
    def __init__(self, secret: bytes) -> None:
        super().__init__()
        self._expected = b"Bearer " + secret

    def start_call(self, info: Any, headers: dict[Any, list[Any]]) -> _Client:
        got = headers.get("authorization") or headers.get(b"authorization") or []
        for value in got:
            v = value.encode() if isinstance(value, str) else value
            if secrets.compare_digest(v, self._expected):
                ids = headers.get("x-ecotop-client") or headers.get(b"x-ecotop-client") or [""]
                cid = ids[0].decode(errors="replace") if isinstance(ids[0], bytes) else ids[0]
                return _Client(str(cid)[:64])
        raise fl.FlightUnauthenticatedError("missing or wrong secret")


class _Server(fl.FlightServerBase):  # type: ignore[misc]
    def __init__(
        self,
        location: str,
        db: Database,
        secret: bytes,
        named: Callable[[str], str],
        limits: ServeLimits,
    ) -> None:
        super().__init__(location, middleware={"auth": _Auth(secret)})
        self._db = db
        self._named = named
        self._limits = limits
        self._lock = threading.Lock()
        self._running: dict[str, int] = {}
        self.requests = 0
        self._cache: dict[str, tuple[float, pa.Table]] = {}
        self._inflight: dict[str, threading.Lock] = {}

    def do_get(self, context: Any, ticket: fl.Ticket) -> fl.FlightDataStream:
        self.requests += 1
        try:
            return self._answer(context, ticket)
        except fl.FlightError:
            raise
        except StoreError as exc:
            raise fl.FlightServerError(encode_error(exc)) from None
        except KeyError as exc:
            raise fl.FlightServerError(
                encode_error(errors.BadInput(f"bad request: missing {exc}"))
            ) from None
        except (ValueError, TypeError, RecursionError) as exc:
            # json.loads of a hostile ticket: no server paths or stack go back to the client
            why = "nested too deeply" if isinstance(exc, RecursionError) else type(exc).__name__
            raise fl.FlightServerError(
                encode_error(errors.BadInput(f"bad request ({why})"))
            ) from None
        except Exception:
            # details for the owner on the writer's stderr; one line for the client
            print(f"ecotop serve: request failed:\n{traceback.format_exc()}", file=sys.stderr)
            raise fl.FlightServerError(
                encode_error(errors.BadInput("internal error (details on the writer's stderr)"))
            ) from None

    def _answer(self, context: Any, ticket: fl.Ticket) -> fl.FlightDataStream:
        raw = ticket.ticket
        if len(raw) > MAX_TICKET_BYTES:
            raise errors.BadInput(f"bad request: a ticket over {MAX_TICKET_BYTES:,} bytes")
        req = json.loads(raw)
        if not isinstance(req, dict):
            raise errors.BadInput("bad request: a ticket is a JSON object")
        kind = req.get("kind")
        if kind == "ping":
            return fl.RecordBatchStream(pa.table({"pid": [os.getpid()]}))
        if kind == "named":
            name = str(req["name"])
            sql = self._named(name)
            key = json.dumps([name, req.get("params")], sort_keys=True)
            table = self._cached(
                key, lambda: self._run(sql, decode_params(req.get("params")), trusted=True)
            )
            return fl.RecordBatchStream(table)
        if kind == "sql":
            sql_text = req["sql"]
            if not isinstance(sql_text, str):
                raise errors.BadInput("bad request: sql must be text")
            params = decode_params(req.get("params"))
            table = self._limited(
                context,
                lambda cur: (
                    guard.run(
                        cur, sql_text, self._limits.adhoc_row_limit, params=params or None
                    ).table
                ),
            )
            return fl.RecordBatchStream(table)
        if kind == "adhoc":
            sql_text = req["sql"]
            limit = req.get("limit")
            if not isinstance(sql_text, str) or not (limit is None or type(limit) is int):
                raise errors.BadInput("bad request: sql must be text and limit a whole number")
            return self._adhoc(context, sql_text, limit)
        raise errors.BadInput(f"unknown request kind {str(kind)[:40]!r}")

    def _admit(self, client: str) -> None:
        with self._lock:
            total = sum(self._running.values())
            if total >= self._limits.max_adhoc_total:
                raise errors.SqlRefused(
                    f"the writer is busy ({self._limits.max_adhoc_total} queries at once); try again"
                )
            if self._running.get(client, 0) >= self._limits.max_adhoc_per_client:
                raise errors.SqlRefused(
                    f"too many queries at once (limit {self._limits.max_adhoc_per_client} per client)"
                )
            self._running[client] = self._running.get(client, 0) + 1

    def _leave(self, client: str) -> None:
        with self._lock:
            self._running[client] -= 1
            if self._running[client] <= 0:
                del self._running[client]

    def _watch(
        self, context: Any, cur: duckdb.DuckDBPyConnection, expired: threading.Event
    ) -> threading.Event:
        """Interrupt `cur` at the time limit or as soon as the client goes; set the result to stop."""
        done = threading.Event()
        deadline = time.monotonic() + self._limits.adhoc_timeout_s

        def watch() -> None:
            while not done.wait(0.05):
                gone = False
                with contextlib.suppress(Exception):
                    gone = bool(context.is_cancelled())
                if time.monotonic() >= deadline:
                    expired.set()
                if gone or expired.is_set():
                    with contextlib.suppress(Exception):
                        cur.interrupt()
                    return

        threading.Thread(target=watch, name="ecotop-serve-watch", daemon=True).start()
        return done

    def _limited(
        self, context: Any, work: Callable[[duckdb.DuckDBPyConnection], pa.Table]
    ) -> pa.Table:
        """Run `work` on a fresh cursor under the per-client and total limits, the time limit, and
        cancelled when the client disconnects."""
        client = self._client_id(context)
        self._admit(client)
        cur = self._db.cursor()
        expired = threading.Event()
        done = self._watch(context, cur, expired)
        try:
            return work(cur)
        except guard.SqlCancelled:
            raise (
                self._timeout_error() if expired.is_set() else errors.SqlError("cancelled")
            ) from None
        except duckdb.Error as exc:
            raise guard.sql_error(exc, "") from None
        finally:
            done.set()
            cur.close()
            self._leave(client)

    def _cached(self, key: str, compute: Callable[[], pa.Table]) -> pa.Table:
        # Dashboards on one file ask the same named queries with the same (minute-aligned) windows:
        # one computation answers every identical request that arrives within the TTL, and
        # concurrent identical requests wait for the first instead of computing it again.
        ttl = self._limits.named_cache_s
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and time.monotonic() - hit[0] <= ttl:
                return hit[1]
            gate = self._inflight.setdefault(key, threading.Lock())
        with gate:
            with self._lock:
                hit = self._cache.get(key)
                if hit is not None and time.monotonic() - hit[0] <= ttl:
                    return hit[1]
            table = compute()
            with self._lock:
                if len(self._cache) > 512:
                    self._cache.clear()
                self._cache[key] = (time.monotonic(), table)
                self._inflight.pop(key, None)
            return table

    def _run(self, sql: str, params: Any, *, trusted: bool) -> pa.Table:
        cur = self._db.cursor()
        try:
            if not trusted:
                return guard.run(cur, sql, None, params=params or None).table
            rel = cur.sql(sql, params=params) if params else cur.sql(sql)
            return rel.to_arrow_table()
        except duckdb.Error as exc:
            raise guard.sql_error(exc, sql) from None
        finally:
            cur.close()

    def _client_id(self, context: Any) -> str:
        # Every process on a unix socket has the same peer ("unix:"): each RemoteDatabase sends
        # its own connection id (x-ecotop-client). A client can pick ids, so the total is capped too.
        with contextlib.suppress(Exception):
            headers = context.get_middleware("auth").client_id
            if headers:
                return str(headers)[:64]
        try:
            return str(context.peer() or "?")
        except Exception:
            return "?"

    def _adhoc(self, context: Any, sql: str, limit: int | None) -> fl.FlightDataStream:
        statements = guard.check(sql)
        if len(statements) != 1:
            raise errors.SqlRefused(f"one statement at a time, not {len(statements)}")
        client = self._client_id(context)
        self._admit(client)
        cur = self._db.cursor()
        expired = threading.Event()

        def _expire() -> None:
            expired.set()
            cur.interrupt()

        timer = threading.Timer(self._limits.adhoc_timeout_s, _expire)
        timer.daemon = True
        cap = self._limits.adhoc_row_limit
        cap = cap if limit in (None, 0) else min(int(limit), cap)

        def _finish() -> None:
            timer.cancel()
            cur.close()
            self._leave(client)

        # Until the first batch (computed here, inside the call) a watch also interrupts the
        # statement if the client goes; afterwards DuckDB only works when the client pulls.
        watching = self._watch(context, cur, expired)
        try:
            timer.start()
            st = guard.stream(cur, statements[0], cap)
            # the first batch decides whether the statement fails (or is cut by the time limit)
            it = iter(st)
            first = next(it, None)
        except guard.SqlCancelled:
            watching.set()
            _finish()
            raise (
                self._timeout_error() if expired.is_set() else errors.SqlError("cancelled")
            ) from None
        except BaseException:
            watching.set()
            _finish()
            raise
        watching.set()
        schema = st.schema

        def batches() -> Any:
            try:
                if first is not None:
                    yield first
                yield from it
            except guard.SqlCancelled:
                raise fl.FlightServerError(encode_error(self._timeout_error())) from None
            finally:
                st.close()
                _finish()

        meta = dict(schema.metadata or {})
        # whether the limit cut the result is only known at the end: peek one row past the cap
        meta[b"ecotop.limit"] = str(cap).encode()
        return fl.GeneratorStream(schema.with_metadata(meta), batches())

    def _timeout_error(self) -> errors.SqlRefused:
        return errors.SqlRefused(
            f"query cancelled after the {self._limits.adhoc_timeout_s:g} s time limit for ad-hoc SQL"
        )


class Serving:
    """A running server for one open, writable Database; `stop()` removes its files.

    Files: FILE.ecotop-secret and FILE.ecotop-serve.json beside the file, each created new with
    O_EXCL|O_NOFOLLOW (a stale one of a killed writer is unlinked first: we hold the write lock),
    with the database file's group; the socket in a fresh private directory (make_socket_dir).
    A failure part way removes what was made.
    """

    def __init__(
        self, db: Database, named: Callable[[str], str], limits: ServeLimits | None = None
    ) -> None:
        if db.read_only:
            raise ValueError("only the process that writes a file serves it")
        self.db = db
        # absolute: `cd /srv && ecotop serve a.duckdb` must publish paths readers elsewhere can use
        self.path = Path(os.path.abspath(db.path))
        self.secret = secrets.token_hex(32).encode()
        st = os.stat(self.path)
        group_readable = bool(st.st_mode & 0o040)
        self._made: list[Path] = []
        self._dir: Path | None = None
        self._server: _Server | None = None
        try:
            self._start(st, group_readable, named, limits or ServeLimits())
        except BaseException:
            self.stop()
            raise

    def _start(
        self,
        st: os.stat_result,
        group_readable: bool,
        named: Callable[[str], str],
        limits: ServeLimits,
    ) -> None:
        sp = secret_path(self.path)
        _remove_own(sp)
        try:
            create_exclusive(sp, self.secret, 0o640 if group_readable else 0o600, st.st_gid)
        except FileExistsError:
            raise errors.BadInput(
                f"{sp}: appeared while starting (another user?); not serving"
            ) from None
        except OSError as exc:
            raise errors.BadInput(f"{sp}: cannot create: {exc.strerror or exc}") from None
        self._made.append(sp)
        self._dir = make_socket_dir(st.st_gid, group_readable)
        self.socket = self._dir / "s.sock"
        self._server = _Server(f"grpc+unix://{self.socket}", self.db, self.secret, named, limits)
        with contextlib.suppress(PermissionError):
            os.chown(self.socket, -1, st.st_gid)
        os.chmod(self.socket, 0o660 if group_readable else 0o600)
        self._thread = threading.Thread(target=self._server.serve, name="ecotop-serve", daemon=True)
        self._thread.start()
        info = {
            "pid": os.getpid(),
            "socket": str(self.socket),
            "socket_dir": str(self._dir),
            "started": datetime.now(UTC).isoformat(),
            "version": _version(),
        }
        ip = info_path(self.path)
        mode = 0o644 if st.st_mode & 0o004 else (0o640 if group_readable else 0o600)
        tmp = ip.with_name(f"{ip.name}.{secrets.token_hex(6)}.tmp")
        try:
            create_exclusive(tmp, json.dumps(info).encode(), mode, st.st_gid)
        except OSError as exc:
            raise errors.BadInput(f"{ip}: cannot create: {exc.strerror or exc}") from None
        try:
            os.replace(tmp, ip)  # rename replaces a planted link itself, never its target
        except OSError:
            _remove_own(tmp)
            raise
        self._made.append(ip)

    @property
    def requests(self) -> int:
        """Requests answered so far."""
        return self._server.requests if self._server is not None else 0

    def stop(self) -> None:
        """Stop serving and remove the info, secret and socket files (idempotent)."""
        for p in reversed(self._made):
            _remove_own(p)
        self._made = []
        if self._server is not None:
            with contextlib.suppress(Exception):
                self._server.shutdown()
            self._server = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self) -> Serving:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("ecotop")
    except Exception:
        return "0"
