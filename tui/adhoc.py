"""Running ad-hoc SQL for the console and pinned panels: always through the guard.

A local file runs `store.guard.run`/`stream` on the caller's cursor (a read-only transaction on a
locked-down connection, the row limit pushed into DuckDB). When another process writes the file and
serves it, the cursor is remote and the statement runs through that writer's guard (`adhoc`).
Nothing here imports Textual.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def run(cur: Any, sql: str, limit: int | None) -> Any:
    """Run one statement through the guard; a `store.guard.AdhocResult`."""
    from ecotop.store.guard import AdhocResult

    adhoc = getattr(cur, "adhoc", None)
    if adhoc is not None:
        t0 = time.perf_counter()
        table, truncated = adhoc(sql, limit)
        elapsed = (time.perf_counter() - t0) * 1000
        return AdhocResult(table, truncated, elapsed, [(f.name, str(f.type)) for f in table.schema])
    from ecotop.store import guard

    return guard.run(cur, sql, limit)


def run_with_timeout(cur: Any, sql: str, limit: int | None, timeout_s: float) -> Any:
    """`run`, interrupted after `timeout_s` seconds; raises TimeoutError when that happened."""
    fired = threading.Event()

    def stop() -> None:
        fired.set()
        with contextlib.suppress(Exception):
            cur.interrupt()

    timer = threading.Timer(timeout_s, stop)
    timer.daemon = True
    timer.start()
    try:
        return run(cur, sql, limit)
    except Exception:
        if fired.is_set():
            raise TimeoutError(f"took longer than {timeout_s:g} s; stopped") from None
        raise
    finally:
        timer.cancel()


def export(
    cur: Any,
    sql: str,
    path: Path,
    cancel: threading.Event | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Run `sql` again without a row limit and stream it into `path` (format from the suffix)."""
    from ecotop.tui import export as writer

    adhoc = getattr(cur, "adhoc", None)
    if adhoc is not None:  # a remote file: the writer sends the whole table
        table, _ = adhoc(sql, None)
        return writer.write(
            table.to_batches(), table.schema, path, cancel=cancel, progress=progress
        )
    from ecotop.store import guard

    with guard.stream(cur, sql, None) as s:
        return writer.write(s, s.schema, path, cancel=cancel, progress=progress)
