"""Layers 2 and 3: run one checked statement read-only on a locked-down cursor, bounded in rows.

`run`/`stream` execute one checked statement on the caller's cursor inside
`BEGIN TRANSACTION READ ONLY` (writes to the file, nextval/setval fail in it) and always roll back.
They refuse a cursor whose connection was not locked down (policy.lockdown). The row limit is pushed
into DuckDB as LIMIT n + 1 on the statement's relation, so `truncated` is exact and nothing beyond
n + 1 rows is ever produced.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa

from ecotop.store.errors import SqlError, SqlRefused
from ecotop.store.guard.check import checked as _checked
from ecotop.store.guard.errors import SqlCancelled, _error, sql_error
from ecotop.store.guard.policy import _enable_progress

__all__ = ["AdhocResult", "AdhocStream", "run", "stream"]


def _positioned(
    cur: duckdb.DuckDBPyConnection, exc: duckdb.Error, text: str, kind: str
) -> SqlError:
    """The error of building a relation, with its position.

    DuckDB's relation API drops the "LINE n" position of binder and catalog errors that
    `execute()` keeps; a plain EXPLAIN of the (already checked, read-only) SELECT binds it again
    without running it and reports the position, one line lower.
    """
    err = sql_error(exc, text)
    if err.line is not None or kind != "SELECT" or isinstance(err, SqlCancelled):  # type: ignore[attr-defined]
        return err
    probe = "EXPLAIN\n" + text
    _rollback(cur)
    try:
        cur.execute("BEGIN TRANSACTION READ ONLY")
        cur.execute(probe)
    except duckdb.Error as again:
        err2 = sql_error(again, probe)
        line = err2.line  # type: ignore[attr-defined]
        if line and line > 1 and err2.message == err.message:  # type: ignore[attr-defined]
            return _error(SqlError, err.message, line - 1, err2.column, err2.length, text)  # type: ignore[attr-defined]
    finally:
        _rollback(cur)
    return err


_PROBE_SECONDS = 1.0


def _executed_positioned(
    cur: duckdb.DuckDBPyConnection, exc: duckdb.Error, text: str, kind: str
) -> SqlError:
    """The error of running a relation, with its position.

    Since 1.5 an error raised while a relation runs (a failed cast) has no "LINE n"; running the
    statement text itself reports it. The probe is read-only and interrupted after a second, so a
    slow statement only costs that second and keeps the unpositioned message.
    """
    err = sql_error(exc, text)
    if err.line is not None or kind != "SELECT" or isinstance(err, SqlCancelled):  # type: ignore[attr-defined]
        return err
    _rollback(cur)
    timer = threading.Timer(_PROBE_SECONDS, cur.interrupt)
    try:
        cur.execute("BEGIN TRANSACTION READ ONLY")
        timer.start()
        result = cur.execute(text)
        while result.fetchmany(8192):
            pass
    except duckdb.Error as again:
        err2 = sql_error(again, text)
        if err2.line is not None and err2.message == err.message:  # type: ignore[attr-defined]
            return err2
    finally:
        timer.cancel()
        _rollback(cur)
    return err


@dataclass
class AdhocResult:
    """The rows of one ad-hoc statement: at most `limit`, `truncated` when more existed."""

    table: pa.Table
    truncated: bool
    elapsed_ms: float
    columns: list[tuple[str, str]]  # (name, DuckDB type as text, e.g. 'DECIMAL(18,2)')


def _begin(cur: duckdb.DuckDBPyConnection, statement: str, limit: int | None) -> tuple[str, str]:
    if limit is not None and (not isinstance(limit, int) or limit < 0):
        raise SqlRefused("the row limit must be a whole number, 0 or more (None: no limit)")
    state = cur.execute(
        "SELECT current_setting('enable_external_access'), current_setting('lock_configuration'), "
        "current_setting('enable_progress_bar'), current_setting('enable_progress_bar_print')"
    ).fetchall()[0]
    if state[:2] != (False, True):
        raise SqlRefused("refused: this connection was not opened through the store (no lockdown)")
    statements = _checked(statement, cur)
    if len(statements) != 1:
        raise SqlRefused(
            "no SQL statement to run"
            if not statements
            else f"one statement at a time, not {len(statements)} (split them with guard.check)"
        )
    if state[2:] != (True, False):
        _enable_progress(cur)
    try:
        cur.execute("BEGIN TRANSACTION READ ONLY")
    except duckdb.Error as exc:
        raise _error(
            SqlError, f"cannot start a read-only transaction on this cursor: {exc}"
        ) from None
    return statements[0]


def _rollback(cur: duckdb.DuckDBPyConnection) -> None:
    with contextlib.suppress(duckdb.Error):
        cur.execute("ROLLBACK")


def _relation(cur: duckdb.DuckDBPyConnection, text: str, limit: int | None, params: Any) -> Any:
    rel = cur.sql(text) if params is None else cur.sql(text, params=params)
    if rel is None:  # pragma: no cover - every statement check() lets through returns rows
        raise _error(SqlError, "the statement returned no result")
    return rel if limit is None else rel.limit(limit + 1)


def _columns(rel: Any) -> list[tuple[str, str]]:
    return [(n, str(t)) for n, t in zip(rel.columns, rel.types, strict=True)]


def run(
    cur: duckdb.DuckDBPyConnection, statement: str, limit: int | None, *, params: Any = None
) -> AdhocResult:
    """Run one statement (checked again here) read-only on `cur`, keeping at most `limit` rows.

    `limit=None` means no limit; `params` are bound to `$name`/`?` placeholders as in
    `cur.sql(..., params=...)`. Raises SqlRefused, SqlError or SqlCancelled.
    """
    text, kind = _begin(cur, statement, limit)
    try:
        t0 = time.perf_counter()
        try:
            rel = _relation(cur, text, limit, params)
            columns = _columns(rel)
        except duckdb.Error as exc:
            raise _positioned(cur, exc, text, kind) from None
        try:
            table = rel.to_arrow_table()
        except duckdb.Error as exc:
            raise _executed_positioned(cur, exc, text, kind) from None
        elapsed = (time.perf_counter() - t0) * 1000
    finally:
        _rollback(cur)
    truncated = limit is not None and table.num_rows > limit
    if truncated:
        table = table.slice(0, limit)
    return AdhocResult(table, truncated, elapsed, columns)


class AdhocStream:
    """The rows of one ad-hoc statement as Arrow record batches, read as DuckDB produces them.

    Iterate (once) for `pyarrow.RecordBatch`es of at most `batch_rows` rows, at most `limit` rows in
    all. `truncated` is final once iteration ends: True when the limit cut the result. `columns` and
    `schema` are known before the first batch. Always `close()` it (or use `with`): the read-only
    transaction stays open until then; iterating to the end closes it too.
    """

    def __init__(
        self,
        cur: duckdb.DuckDBPyConnection,
        text: str,
        kind: str,
        limit: int | None,
        batch_rows: int,
        params: Any,
    ) -> None:
        self._cur = cur
        self._text = text
        self._limit = limit
        self._t0 = time.perf_counter()
        self._closed = False
        try:
            try:
                rel = _relation(cur, text, limit, params)
                self.columns: list[tuple[str, str]] = _columns(rel)
            except duckdb.Error as exc:
                raise _positioned(cur, exc, text, kind) from None
            try:
                self._reader = rel.to_arrow_reader(batch_rows)
            except duckdb.Error as exc:
                raise sql_error(exc, text) from None
        except BaseException:
            _rollback(cur)
            raise
        self.schema: pa.Schema = self._reader.schema
        self.rows = 0
        self.truncated = False
        self.elapsed_ms = 0.0

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        try:
            while not self._closed:
                try:
                    batch = self._reader.read_next_batch()
                except StopIteration:
                    break
                except (duckdb.Error, pa.ArrowException, OSError) as exc:
                    # DuckDB errors while Arrow pulls a batch arrive as OSError ("INTERRUPT Error:
                    # Interrupted!" when cancelled) or ArrowException.
                    raise sql_error(exc, self._text) from None
                if self._limit is not None and self.rows + batch.num_rows > self._limit:
                    self.truncated = True
                    batch = batch.slice(0, self._limit - self.rows)
                    if batch.num_rows:
                        self.rows += batch.num_rows
                        yield batch
                    break
                self.rows += batch.num_rows
                yield batch
        finally:
            self.close()

    def close(self) -> None:
        """End the stream and roll back its transaction (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self.elapsed_ms = (time.perf_counter() - self._t0) * 1000
        with contextlib.suppress(Exception):
            self._reader.close()
        _rollback(self._cur)

    def __enter__(self) -> AdhocStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def stream(
    cur: duckdb.DuckDBPyConnection,
    statement: str,
    limit: int | None,
    *,
    batch_rows: int = 65_536,
    params: Any = None,
) -> AdhocStream:
    """Start one statement (checked again here) read-only on `cur` and stream its rows.

    See AdhocStream. `limit=None` means no limit. Raises SqlRefused, SqlError or SqlCancelled.
    """
    text, kind = _begin(cur, statement, limit)
    return AdhocStream(cur, text, kind, limit, batch_rows, params)
