"""SpoolFeed: ingests a spool directory on its own thread while the dashboard shows."""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from ecotop.store.spool.directory import DEFAULT_WAL_LIMIT, Spool
from ecotop.store.spool.results import FileResult


class SpoolFeed:
    """Ingests a spool directory on its own thread while the dashboard shows (mirrors tui.live.LiveFeed).

    A plain thread, not a Textual worker; stopped by an event and joined on quit, after the file in
    hand is finished (a file is one transaction: it is either in, or still in the spool). Counters
    (`total`, `files`, `rejected`, `events_per_s()`, `last_append_at`, `error`) are read by the UI.
    """

    def __init__(
        self,
        db: Any,
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
        self.interval_s = interval_s
        self.on_result = on_result
        self.on_error = on_error
        self.clock = clock or (lambda: datetime.now(UTC))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._recent: deque[tuple[float, int]] = deque(maxlen=240)
        self.total = 0
        self.batches = 0
        self.files = 0
        self.rejected = 0
        self.duplicates = 0
        self.last_append_at: datetime | None = None
        self.last_event_until: datetime | None = None
        self.last_result: FileResult | None = None
        self.error: BaseException | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="ecotop-spool", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the thread to stop and wait for it (the file in hand finishes first)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.spool.close()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def step(self) -> int:
        """Ingest every file waiting now; returns how many rows were appended."""
        results = self.spool.run_once(self._stop, on_result=self._count)
        return sum(r.rows for r in results if r.outcome == "ingested")

    def _count(self, res: FileResult) -> None:
        with self._lock:
            self.last_result = res
            if res.outcome == "ingested":
                self.total += res.rows
                self.files += 1
                self.batches += 1
                self._recent.append((time.monotonic(), res.rows))
                if res.rows:
                    self.last_append_at = self.last_event_until = self.clock()
            elif res.outcome == "rejected":
                self.rejected += 1
            else:
                self.duplicates += 1
        if self.on_result is not None:
            self.on_result(res)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                if not self.step():
                    # Idle: a good moment for a checkpoint, then wait for files.
                    self.spool.maybe_checkpoint(limit=self.spool.wal_limit // 4)
                    self._stop.wait(self.interval_s)
        except Exception as exc:  # reported in the status bar; the feed stops
            self.error = exc
            if self.on_error is not None:
                self.on_error(exc)

    def events_per_s(self, window_s: float = 10.0) -> float:
        """Rows ingested per second over the last `window_s` seconds of wall time."""
        now = time.monotonic()
        with self._lock:
            recent = [(t, n) for t, n in self._recent if now - t <= window_s]
        if not recent:
            return 0.0
        span = max(now - recent[0][0], self.interval_s)
        return sum(n for _, n in recent) / span
