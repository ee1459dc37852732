"""One background feed: a plain thread that writes into the open file until stopped.

Not a Textual worker: thread workers share a small pool, and a long-lived one starves the refresh
workers. The simulator (`tui.live.LiveFeed`) and the spool (`store.spool.SpoolFeed`) differ only in
`tick()`; the thread, the stop flag, the counters the status bar reads and the error report are here.
Counters are plain attributes updated under a lock and read by the UI thread.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime


class BackgroundFeed:
    """Runs `tick()` on its own thread until `stop()`; a failure stops it and is kept in `error`."""

    thread_name = "ecotop-feed"
    #: True when quitting would stop work a user cares about (the dashboard asks first)
    asks_before_quit: bool = False

    def __init__(
        self,
        *,
        interval_s: float,
        clock: Callable[[], datetime] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        keep: int = 120,
    ) -> None:
        self.interval_s = interval_s
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self.on_error = on_error
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._recent: deque[tuple[float, int]] = deque(maxlen=keep)
        self.total = 0
        self.batches = 0
        self.last_append_at: datetime | None = None  # when rows last arrived
        self.last_event_until: datetime | None = None  # the end of the time covered so far
        self.error: BaseException | None = None

    # -- what a feed does ------------------------------------------------------------------------

    def tick(self) -> None:
        """One round of work on the feed's thread (wait on `self._stop` to pause between rounds)."""
        raise NotImplementedError

    def record(self, rows: int, until: datetime | None) -> None:
        """Count one appended batch of `rows` rows covering time up to `until`."""
        with self._lock:
            self.total += rows
            self.batches += 1
            self._recent.append((time.monotonic(), rows))
            if rows:
                self.last_append_at = until
            if until is not None:
                self.last_event_until = until

    # -- the thread ------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the thread (once)."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the thread to stop and wait for it (the batch in hand finishes first)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    @property
    def running(self) -> bool:
        """True while the thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self.tick()
        except Exception as exc:  # reported in the status bar; the feed stops
            self.error = exc
            if self.on_error is not None:
                self.on_error(exc)

    def events_per_s(self, window_s: float = 10.0) -> float:
        """Rows appended per second over the last `window_s` seconds of wall time."""
        now = time.monotonic()
        with self._lock:
            recent = [(t, n) for t, n in self._recent if now - t <= window_s]
        if not recent:
            return 0.0
        span = max(now - recent[0][0], self.interval_s)
        return sum(n for _, n in recent) / span
