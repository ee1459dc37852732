"""Ad-hoc SQL for the console and pinned panels: always through the gateway, hence the guard.

Nothing here imports Textual; every function blocks (call it from a worker).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from ecotop.queries.gateway import AdhocResult, Cursor, Gateway


def run(gateway: Gateway, cur: Cursor, sql: str, limit: int | None) -> AdhocResult:
    """Run one statement through the guard on `cur` (which the caller may interrupt)."""
    return gateway.adhoc(sql, limit, cursor=cur)


def export(
    gateway: Gateway,
    cur: Cursor,
    sql: str,
    path: Path,
    cancel: threading.Event | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Run `sql` again without a row limit and stream it into `path` (format from the suffix)."""
    from ecotop.tui import export as writer

    stream = gateway.stream(sql, cursor=cur)
    try:
        return writer.write(stream, stream.schema, path, cancel=cancel, progress=progress)
    finally:
        stream.close()
