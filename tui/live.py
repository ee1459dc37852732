"""The live simulator: a plain background thread that appends simulated events to the open file.

Not a Textual worker: thread workers share a small pool, and a long-lived one starves the refresh
workers. The thread is stopped by an event and joined on quit. Each tick asks
`sample_data.live.EventStream(scale, seed, rate).events(start, end)` for the events of the elapsed
interval (stamped with the injected clock's time) and appends them with `queries.feeds.append_events`,
which updates the rollups in the same transaction.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol


class Feed(Protocol):
    """A background writer the dashboard shows: the simulator (LiveFeed) or a spool (SpoolFeed)."""

    total: int
    interval_s: float
    last_append_at: datetime | None
    error: BaseException | None

    def start(self) -> None: ...

    def stop(self, timeout: float = 5.0) -> None: ...

    def events_per_s(self, window_s: float = 10.0) -> float: ...


def batch_rows(batch: dict[str, Any]) -> int:
    """Rows in a batch {table: pyarrow.Table} (0 for None)."""
    if not batch:
        return 0
    return sum(t.num_rows for t in batch.values() if t is not None)


class LiveFeed:
    """Appends simulated events every `interval_s` seconds on its own thread.

    `db` is the writable `LocalGateway`. `stream` has `.events(start, end) -> {table: pyarrow.Table}`;
    `append(db, batch)` writes a batch
    and its rollups in one transaction. Counters (`total`, `events_per_s()`, `last_append_at`,
    `error`) are read by the UI thread; they are plain attributes updated atomically.
    """

    def __init__(
        self,
        db: Any,
        stream: Any,
        *,
        clock: Callable[[], datetime] | None = None,
        interval_s: float = 1.0,
        append: Callable[[Any, dict[str, Any]], Any] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        self.db = db
        self.stream = stream
        self.clock = clock or (lambda: datetime.now(UTC))
        self.interval_s = interval_s
        self._append = append
        self.on_error = on_error
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._recent: deque[tuple[float, int]] = deque(maxlen=120)
        self.total = 0
        self.batches = 0
        self.last_append_at: datetime | None = None  # clock time of the newest appended batch
        self.last_event_until: datetime | None = None
        self.error: BaseException | None = None
        #: Where the next batch starts (set by start(); tests set it to drive step() by hand).
        self.since: datetime | None = None

    # -- control ---------------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        if self.since is None:
            self.since = self.clock()
        self._thread = threading.Thread(target=self._run, name="ecotop-live", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the thread to stop and wait for it (the current batch finishes first)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- work ------------------------------------------------------------------------------------

    def step(self, end: datetime | None = None) -> int:
        """Append the events of [last end, end) now; returns how many rows were appended.

        The thread calls this every tick; tests call it directly for a deterministic feed.
        """
        end = end or self.clock()
        start = self.since or end
        if end <= start:
            self.since = start
            return 0
        batch = self.stream.events(start, end)
        n = batch_rows(batch)
        if n:
            append = self._append
            if append is None:
                from ecotop.queries.feeds import append_events

                append = append_events
            append(self.db, batch)
        self.since = end
        with self._lock:
            self.total += n
            self.batches += 1
            self._recent.append((time.monotonic(), n))
            if n:
                self.last_append_at = end
            self.last_event_until = end
        return n

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.step()
            except Exception as exc:  # reported in the status bar; the feed stops
                self.error = exc
                if self.on_error is not None:
                    self.on_error(exc)
                return

    def events_per_s(self, window_s: float = 10.0) -> float:
        """Rows appended per second over the last `window_s` seconds of wall time."""
        now = time.monotonic()
        with self._lock:
            recent = [(t, n) for t, n in self._recent if now - t <= window_s]
        if not recent:
            return 0.0
        span = max(now - recent[0][0], self.interval_s)
        return sum(n for _, n in recent) / span
