"""The writer serves its file: Arrow Flight on a unix socket beside it (see store/remote.py).

Requests (the Flight ticket is JSON):
  {"kind": "ping"}                                  liveness
  {"kind": "named", "name": N, "params": {...}}     a named query of the registry, by name
  {"kind": "sql", "sql": S, "params": ...}          read-only SQL, through the SQL guard
  {"kind": "adhoc", "sql": S, "limit": n}           an ad-hoc statement, guarded, row-limited,
                                                    under the per-client concurrency and time limits
Every request must carry `authorization: Bearer <secret>`; the secret is readable only by those who
may read the file. Nothing that arrives can write, change settings or read files: named queries are
this build's own SQL, everything else passes the guard, and every connection is locked down.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import tempfile
import threading
import time
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
    SOCK_SUFFIX,
    decode_params,
    encode_error,
    info_path,
    secret_path,
)

SOCKET_PATH_MAX = 100  # sun_path is 108 bytes on Linux


@dataclass(frozen=True)
class ServeLimits:
    """Per-client limits for ad-hoc SQL through the socket (ECOTOP_SERVE_MAX_ADHOC,
    ECOTOP_SERVE_ADHOC_TIMEOUT override the defaults)."""

    max_adhoc_per_client: int = field(
        default_factory=lambda: int(os.environ.get("ECOTOP_SERVE_MAX_ADHOC", "2"))
    )
    adhoc_timeout_s: float = field(
        default_factory=lambda: float(os.environ.get("ECOTOP_SERVE_ADHOC_TIMEOUT", "30"))
    )
    adhoc_row_limit: int = 1_000_000
    # named-query results are shared between identical requests for this long (ECOTOP_SERVE_CACHE)
    named_cache_s: float = field(
        default_factory=lambda: float(os.environ.get("ECOTOP_SERVE_CACHE", "0.5"))
    )


def socket_path_for(db_path: Path) -> Path:
    """The socket beside the file, or a short path in the temp dir when that one is too long."""
    beside = db_path.with_name(db_path.name + SOCK_SUFFIX)
    if len(str(beside)) <= SOCKET_PATH_MAX:
        return beside
    digest = hashlib.sha1(str(db_path.resolve()).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"ecotop-{digest}.sock"


class _Auth(fl.ServerMiddlewareFactory):
    def __init__(self, secret: bytes) -> None:
        super().__init__()
        self._expected = b"Bearer " + secret

    def start_call(self, info: Any, headers: dict[str, list[Any]]) -> None:
        got = headers.get("authorization") or headers.get(b"authorization") or []
        for value in got:
            v = value.encode() if isinstance(value, str) else value
            if secrets.compare_digest(v, self._expected):
                return None
        raise fl.FlightUnauthenticatedError("missing or wrong secret")


class _Server(fl.FlightServerBase):
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

    def do_get(self, context: Any, ticket: fl.Ticket) -> fl.RecordBatchStream:
        self.requests += 1
        try:
            req = json.loads(ticket.ticket)
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
                return fl.RecordBatchStream(
                    self._run(str(req["sql"]), decode_params(req.get("params")), trusted=False)
                )
            if kind == "adhoc":
                return self._adhoc(context, str(req["sql"]), req.get("limit"))
            raise errors.BadInput(f"unknown request kind {kind!r}")
        except StoreError as exc:
            raise fl.FlightServerError(encode_error(exc)) from None
        except KeyError as exc:
            raise fl.FlightServerError(
                encode_error(errors.BadInput(f"unknown name {exc}"))
            ) from None
        except (ValueError, TypeError) as exc:
            raise fl.FlightServerError(
                encode_error(errors.BadInput(f"bad request: {exc}"))
            ) from None

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
        try:
            return str(context.peer_identity() or context.peer() or "?")
        except Exception:
            return "?"

    def _adhoc(self, context: Any, sql: str, limit: int | None) -> fl.FlightDataStream:
        statements = guard.check(sql)
        if len(statements) != 1:
            raise errors.SqlRefused(f"one statement at a time, not {len(statements)}")
        client = self._client_id(context)
        with self._lock:
            if self._running.get(client, 0) >= self._limits.max_adhoc_per_client:
                raise errors.SqlRefused(
                    f"too many queries at once (limit {self._limits.max_adhoc_per_client} per client)"
                )
            self._running[client] = self._running.get(client, 0) + 1
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
            with self._lock:
                self._running[client] -= 1

        try:
            timer.start()
            st = guard.stream(cur, statements[0], cap)
            # the first batch decides whether the statement fails (or is cut by the time limit)
            it = iter(st)
            first = next(it, None)
        except guard.SqlCancelled:
            _finish()
            raise (
                self._timeout_error() if expired.is_set() else errors.SqlError("cancelled")
            ) from None
        except BaseException:
            _finish()
            raise
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
    """A running server for one open, writable Database; `stop()` removes its files."""

    def __init__(
        self, db: Database, named: Callable[[str], str], limits: ServeLimits | None = None
    ) -> None:
        if db.read_only:
            raise ValueError("only the process that writes a file serves it")
        self.db = db
        self.path = db.path
        self.socket = socket_path_for(db.path)
        self.secret = secrets.token_hex(32).encode()
        st = os.stat(db.path)
        group_readable = bool(st.st_mode & 0o040)
        # The secret: readable by the owner, and by the file's group when the file is group-readable.
        sp = secret_path(db.path)
        with contextlib.suppress(FileNotFoundError):
            sp.unlink()
        fd = os.open(sp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(self.secret)
        with contextlib.suppress(PermissionError):
            os.chown(sp, -1, st.st_gid)
        os.chmod(sp, 0o640 if group_readable else 0o600)
        with contextlib.suppress(FileNotFoundError):
            self.socket.unlink()  # we hold the write lock: any socket here is a killed writer's
        self._server = _Server(
            f"grpc+unix://{self.socket}", db, self.secret, named, limits or ServeLimits()
        )
        with contextlib.suppress(PermissionError):
            os.chown(self.socket, -1, st.st_gid)
        os.chmod(self.socket, 0o660 if group_readable else 0o600)
        self._thread = threading.Thread(target=self._server.serve, name="ecotop-serve", daemon=True)
        self._thread.start()
        info = {
            "pid": os.getpid(),
            "socket": str(self.socket),
            "started": datetime.now(UTC).isoformat(),
            "version": _version(),
        }
        ip = info_path(db.path)
        tmp = ip.with_name(ip.name + ".tmp")
        tmp.write_text(json.dumps(info))
        os.chmod(tmp, 0o644 if st.st_mode & 0o004 else (0o640 if group_readable else 0o600))
        os.replace(tmp, ip)

    @property
    def requests(self) -> int:
        """Requests answered so far."""
        return self._server.requests

    def stop(self) -> None:
        """Stop serving and remove the info, secret and socket files."""
        for p in (info_path(self.path), secret_path(self.path)):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
        with contextlib.suppress(Exception):
            self._server.shutdown()
        with contextlib.suppress(FileNotFoundError):
            self.socket.unlink()

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
