"""What the SQL console runs, apart from the screen that shows it (no Textual here).

`prepare` splits the editor's spans into guarded statements (a refusal stops the whole batch);
`run_statements` runs them one by one on one cursor of the calling worker thread, yielding each
result; `export_result` streams one statement, without a row limit, into a file. A `Job` is what
the screen polls (elapsed time, progress) and what `esc` interrupts. Every function blocks: call
them from a worker.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecotop.queries.errors import SqlError, SqlRefused, StoreError
from ecotop.queries.gateway import Cursor, Gateway, split_statements
from ecotop.tui import adhoc
from ecotop.tui.widgets.results_tabs import ResultData, display_table
from ecotop.tui.widgets.sql_text import Span, first_line


@dataclass
class Prepared:
    """One statement to run: its text as the guard gave it and where it starts in the buffer."""

    sql: str
    offset: int


@dataclass
class Job:
    """A running query batch (or export): what the UI polls and what `cancel` interrupts."""

    id: int
    kind: str  # "query" | "export"
    started: float = field(default_factory=time.perf_counter)
    cursor: Cursor | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    total: int = 0
    current: int = 0
    rows: int = 0  # export progress
    label: str = ""

    def interrupt(self) -> None:
        """Stop the batch: no further statement starts, the running one is interrupted."""
        self.cancel.set()
        cur = self.cursor
        if cur is not None:
            with contextlib.suppress(Exception):
                cur.interrupt()

    def progress(self) -> float | None:
        """The running statement's progress in percent, or None when DuckDB does not know."""
        cur = self.cursor
        if cur is None:
            return None
        with contextlib.suppress(Exception):
            value = float(cur.query_progress())
            return value if value >= 0 else None
        return None


class PrepareRefused(Exception):
    """A span the guard refused (nothing of the batch runs)."""

    def __init__(self, span: Span, error: SqlRefused | SqlError) -> None:
        super().__init__(str(error))
        self.span = span
        self.error = error


def prepare(spans: list[Span]) -> list[Prepared]:
    """Every statement of `spans`, checked by the guard; raises PrepareRefused on the first refusal."""
    prepared: list[Prepared] = []
    for span in spans:
        try:
            statements = split_statements(span.text)
        except (SqlRefused, SqlError) as exc:
            raise PrepareRefused(span, exc) from None
        at = span.start
        for st in statements:
            lead = len(st) - len(st.lstrip())
            prepared.append(Prepared(st.strip().rstrip(";").strip() or st, at + lead))
            at += len(st)
    return prepared


def run_statements(
    gateway: Gateway, job: Job, prepared: list[Prepared], limit: int | None, zone: Any
) -> Iterator[tuple[Prepared, ResultData, BaseException | None]]:
    """Run `prepared` one by one on one cursor (kept on `job` for cancelling); stops at an error."""
    cur = gateway.cursor()
    job.cursor = cur
    try:
        for i, p in enumerate(prepared):
            if job.cancel.is_set():
                break
            job.current = i
            result, error = _run_one(gateway, cur, job, i, p, limit, zone)
            yield p, result, error
            if error is not None:
                break
    finally:
        job.cursor = None
        with contextlib.suppress(Exception):
            cur.close()


def _run_one(
    gateway: Gateway, cur: Cursor, job: Job, i: int, p: Prepared, limit: int | None, zone: Any
) -> tuple[ResultData, BaseException | None]:
    t0 = time.perf_counter()
    result = ResultData(index=i, sql=p.sql)
    try:
        res = adhoc.run(gateway, cur, p.sql, limit)
    except StoreError as exc:
        result.elapsed_ms = (time.perf_counter() - t0) * 1000
        result.cancelled = job.cancel.is_set() or type(exc).__name__ == "SqlCancelled"
        result.error = "cancelled" if result.cancelled else str(exc)
        return result, exc
    except Exception as exc:  # a failure of the connection itself
        result.elapsed_ms = (time.perf_counter() - t0) * 1000
        result.error = f"{type(exc).__name__}: {first_line(str(exc))}"
        return result, exc
    result.table = res.table
    result.shown = display_table(res.table, zone)
    result.types = [t for _, t in res.columns]
    result.truncated = res.truncated
    result.elapsed_ms = res.elapsed_ms
    return result, None


def export_result(gateway: Gateway, job: Job, sql: str, path: Path) -> int:
    """Run `sql` again without a row limit into `path`; returns the rows written."""
    cur = gateway.cursor()
    job.cursor = cur

    def progress(rows: int) -> None:
        job.rows = rows

    try:
        return adhoc.export(gateway, cur, sql, path, job.cancel, progress)
    finally:
        job.cursor = None
        with contextlib.suppress(Exception):
            cur.close()


def export_error(job: Job, exc: BaseException) -> str:
    """What an export failure says ("cancelled" when the user stopped it)."""
    from ecotop.tui import export

    if isinstance(exc, export.Cancelled) or job.cancel.is_set():
        return "cancelled"
    return first_line(str(exc)) or type(exc).__name__
