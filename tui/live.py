"""The live simulator: a plain background thread that appends simulated events to the open file.

Not a Textual worker: thread workers share a small pool, and a long-lived one starves the refresh
workers. The thread is stopped by an event and joined on quit. Each tick asks
`sample_data.live.EventStream(scale, seed, rate).events(start, end)` for the events of the elapsed
interval (stamped with the injected clock's time) and appends them with `queries.feeds.append_events`,
which updates the rollups in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from ecotop.queries.feeds import BackgroundFeed


class Feed(Protocol):
    """A background writer the dashboard shows: the simulator (LiveFeed) or a spool (SpoolFeed)."""

    total: int
    interval_s: float
    #: quitting stops work in hand, so the dashboard asks first (a spool: True; the simulator: False)
    asks_before_quit: bool
    last_append_at: datetime | None
    last_event_until: datetime | None
    error: BaseException | None

    def start(self) -> None: ...

    def stop(self, timeout: float = 5.0) -> None: ...

    def events_per_s(self, window_s: float = 10.0) -> float: ...


def batch_rows(batch: dict[str, Any]) -> int:
    """Rows in a batch {table: pyarrow.Table} (0 for None)."""
    if not batch:
        return 0
    return sum(t.num_rows for t in batch.values() if t is not None)


class LiveFeed(BackgroundFeed):
    """Appends simulated events every `interval_s` seconds on its own thread.

    `db` is the writable `LocalGateway`. `stream` has `.events(start, end) -> {table: pyarrow.Table}`;
    `append(db, batch)` writes a batch and its rollups in one transaction. The thread, the counters
    (`total`, `events_per_s()`, `last_append_at`, `error`) and stopping are the background feed's
    (`queries.feeds.BackgroundFeed`, shared with the spool feed).
    """

    thread_name = "ecotop-live"

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
        super().__init__(interval_s=interval_s, clock=clock, on_error=on_error)
        self.db = db
        self.stream = stream
        self._append = append
        #: Where the next batch starts (set by start(); tests set it to drive step() by hand).
        self.since: datetime | None = None

    def start(self) -> None:
        if self.since is None:
            self.since = self.clock()
        super().start()

    def tick(self) -> None:
        if not self._stop.wait(self.interval_s):
            self.step()

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
        self.record(n, end)
        return n
