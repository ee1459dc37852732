"""SpoolFeed: ingests a spool directory on its own thread while the dashboard shows.

The thread, the stop flag, the counters the status bar reads and the error report are the
background feed's (`store.background.BackgroundFeed`, shared with the simulator's `LiveFeed`); this
adds one round of ingestion (`tick`) and the spool's own counts (files, rejected, duplicates).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from ecotop.store.background import BackgroundFeed
from ecotop.store.spool.directory import DEFAULT_WAL_LIMIT, Spool
from ecotop.store.spool.results import FileResult

if TYPE_CHECKING:
    from ecotop.store.db import Database


class SpoolFeed(BackgroundFeed):
    """Ingests a spool directory on its own thread while the dashboard shows (mirrors tui.live.LiveFeed).

    A plain thread, not a Textual worker; stopped by an event and joined on quit, after the file in
    hand is finished (a file is one transaction: it is either in, or still in the spool). Counters
    (`total`, `files`, `rejected`, `events_per_s()`, `last_append_at`, `error`) are read by the UI.
    """

    thread_name = "ecotop-spool"
    #: quitting stops the ingestion of the spool: the dashboard asks first
    asks_before_quit = True

    def __init__(
        self,
        db: Database,
        directory: str | os.PathLike[str],
        *,
        interval_s: float = 0.5,
        delete: bool = False,
        wal_limit: int = DEFAULT_WAL_LIMIT,
        on_result: Callable[[FileResult], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.spool = Spool(db, directory, delete=delete, wal_limit=wal_limit)
        super().__init__(interval_s=interval_s, clock=clock, on_error=on_error, keep=240)
        self.on_result = on_result
        self.files = 0
        self.rejected = 0
        self.duplicates = 0
        self.last_result: FileResult | None = None

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the thread to stop and wait for it (the file in hand finishes first)."""
        super().stop(timeout)
        self.spool.close()

    def tick(self) -> None:
        if not self.step():
            # Idle: a good moment for a checkpoint, then wait for files.
            self.spool.maybe_checkpoint(limit=self.spool.wal_limit // 4)
            self._stop.wait(self.interval_s)

    def step(self) -> int:
        """Ingest every file waiting now; returns how many rows were appended."""
        results = self.spool.run_once(self._stop, on_result=self._count)
        return sum(r.rows for r in results if r.outcome == "ingested")

    def _count(self, res: FileResult) -> None:
        with self._lock:
            self.last_result = res
            if res.outcome == "ingested":
                self.files += 1
            elif res.outcome == "rejected":
                self.rejected += 1
            else:
                self.duplicates += 1
        if res.outcome == "ingested":
            self.record(res.rows, self.clock() if res.rows else None)
        if self.on_result is not None:
            self.on_result(res)
