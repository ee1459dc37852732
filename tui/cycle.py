"""The one refresh cycle: which screen fetches, when the next cycle starts, what a cycle carries.

A mixin of `EcotopApp` (kept apart so the app file holds lifecycle and keys). The contract a screen
follows is in tui/screens/base.py; the cycle itself never touches the data.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ecotop.tui.screens.base import EcotopScreen, RefreshContext
from ecotop.tui.watchdogs import Watchdogs

if TYPE_CHECKING:
    from ecotop.queries.alerts import AlertResult, Rule


class RefreshCycle(Watchdogs):
    """Start a refresh on the top `EcotopScreen`, record its end, schedule the next."""

    # state the app sets up (EcotopApp.__init__)
    range_key: str

    live: bool
    paused: bool
    immutable: bool
    rules: tuple[Rule, ...]
    alert_every_s: float
    refresh_s: float
    clock: Callable[[], datetime]
    data_as_of: datetime | None
    _alerts_due_at: float | None
    _alerts_judged: bool
    _timer: Any
    _inflight: EcotopScreen | None
    _again: bool
    _lost_writer: int | None
    last_refresh_at: datetime | None
    last_query_ms: float | None
    last_error: str | None
    last_cached: bool
    refresh_count: int
    refresh_log: deque[tuple[float, float]]

    @property
    def baseline(self) -> str:
        """What changes compare with (EcotopApp decides)."""
        raise NotImplementedError

    def set_alerts(self, alerts: list[AlertResult]) -> None:
        raise NotImplementedError  # EcotopApp

    def _update_status(self) -> None:
        raise NotImplementedError  # EcotopApp

    def _refresh_target(self) -> EcotopScreen | None:
        for screen in reversed(self.screen_stack):
            if isinstance(screen, EcotopScreen):
                return screen
        return None

    def refresh_context(self, render: bool = True) -> RefreshContext:
        """This cycle's context; alert rules ride along at most every `alert_every_s` seconds."""
        rules: tuple[Rule, ...] = ()
        mono = time.monotonic()
        # Not in the first cycle: the first screen fills in before alerts cost anything.
        # A file that cannot change is judged once.
        judged_for_good = self.immutable and self._alerts_judged
        if (self.rules and self.refresh_count > 0 and not judged_for_good) and (
            self._alerts_due_at is None or mono >= self._alerts_due_at or self.alert_every_s <= 0
        ):
            rules = self.rules
            self._alerts_due_at = mono + self.alert_every_s
        return RefreshContext(
            range_key=self.range_key,
            baseline=self.baseline,
            live=self.live,
            now=self.clock(),
            render=render,
            rules=rules,
            as_of=self.data_as_of,
        )

    def request_refresh(self) -> None:
        """Start a refresh cycle now (or right after the one in flight)."""
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        if self._inflight is not None:
            self._again = True
            return
        if self.paused:
            self._update_status()
            self._schedule()
            return
        target = self._refresh_target()
        if target is None or not target.is_attached:
            self._schedule()
            return
        self._inflight = target
        target.start_refresh(self.refresh_context(render=target.is_active))

    def refresh_finished(
        self,
        screen: EcotopScreen | None,
        elapsed_ms: float | None,
        error: BaseException | None = None,
        alerts: list[AlertResult] | None = None,
        alerts_ms: float = 0.0,
        cached: bool = False,
        as_of: datetime | None = None,
    ) -> None:
        """A screen's refresh ended (or its screen went away): record it, schedule the next."""
        if screen is not None and self._inflight is not None and screen is not self._inflight:
            return  # a stale result of a screen that is no longer the target
        self._inflight = None
        self.refresh_count += 1
        self.last_refresh_at = self.clock()
        self.last_cached = cached
        if as_of is not None and not self.live:
            self.data_as_of = as_of
        if elapsed_ms is not None:
            self.last_query_ms = elapsed_ms
            self.refresh_log.append((elapsed_ms - alerts_ms, alerts_ms))
        if error is not None:
            self.last_error = _one_line(error)
            self.log.error(f"refresh failed: {error!r}")
            if self.gateway.writer_pid is not None:
                self._watch_writer()
        elif self._lost_writer is None:
            self.last_error = None
        if alerts is not None:
            self.set_alerts(alerts)
        self._update_status()
        if self._again:
            self._again = False
            self.call_later(self.request_refresh)
        else:
            self._schedule()

    def _schedule(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        if not self.is_running:
            return
        self._timer = self.set_timer(self.refresh_s, self.request_refresh, name="refresh")

    def screen_became_current(self, screen: EcotopScreen) -> None:
        """A screen came to the top: show fresh data for it at once."""
        self._update_status()
        if self._inflight is None:
            # after the first paint of the screen, so it shows at once and fills in
            self.call_after_refresh(self.request_refresh)

    def screen_gone(self, screen: EcotopScreen) -> None:
        if self._inflight is screen:
            self._inflight = None
            self._again = False
            if self.is_running:
                self.call_later(self.request_refresh)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
