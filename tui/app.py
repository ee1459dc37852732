"""The ecotop Textual app: the one refresh cycle, the time range, pause, alert state and app keys.

The app holds a `queries.gateway.Gateway` (the only way to the data) and never calls it on its own
thread: screens call it from their refresh workers (tui/screens/base.py), the writer watch and the
serving start run in thread workers here. Built by `tui.factory.make_app` (re-exported below).
See docs/ARCHITECTURE.md.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar
from zoneinfo import ZoneInfo

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen

from ecotop.queries.gateway import (
    Gateway,
    Stoppable,
    StoreError,
    arm_ui_thread_guard,
    disarm_ui_thread_guard,
    open_gateway,
)
from ecotop.tui.keys import APP_KEYS
from ecotop.tui.live import Feed, LiveFeed
from ecotop.tui.screens.base import EcotopScreen, OpenMerchant, RefreshContext
from ecotop.tui.status import Status, alert_state

if TYPE_CHECKING:
    from ecotop.queries.alerts import AlertResult, Rule

DEFAULT_ZONE = "Asia/Shanghai"
REFRESH_STEPS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
MIN_SIZE = (60, 20)
#: Live data counts as stale when nothing arrived for this long (and at least 3 feed ticks).
STALE_AFTER = timedelta(seconds=15)
#: Alert rules are judged in the refresh worker at most this often (each rule window costs queries).
ALERT_EVERY_S = 30.0

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class EcotopCommands(Provider):
    """The command palette (ctrl+p): every action of the app, by name, with its key."""

    def _commands(self) -> list[tuple[str, str, Callable[[], Any]]]:
        app = self.app
        out = []
        for k in APP_KEYS:
            title = f"{k.description} · key {k.display}"
            out.append((title, k.action, partial(app.run_action, k.action)))
        return out

    async def discover(self) -> Hits:
        for title, action, cb in self._commands():
            yield DiscoveryHit(title, cb, help=f"action: {action}")

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, action, cb in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), cb, help=f"action: {action}")


class TooSmallScreen(Screen):
    """Shown instead of everything when the terminal is below MIN_SIZE."""

    DEFAULT_CSS = """
    TooSmallScreen { align: center middle; }
    TooSmallScreen > #too-small { width: auto; height: auto; content-align: center middle; }
    """

    BINDINGS: ClassVar = [Binding("q", "app.quit", "Quit")]

    def compose(self):
        from textual.widgets import Static

        w, h = MIN_SIZE
        yield Static(f"terminal too small\nneed at least {w}x{h}\nq quits", id="too-small")


class EcotopApp(App):
    """ecotop's dashboard. Build it with `make_app()`."""

    CSS_PATH = "ecotop.tcss"
    TITLE = "ecotop"
    COMMANDS: ClassVar = {EcotopCommands}
    ENABLE_COMMAND_PALETTE = True
    BINDINGS: ClassVar = [
        Binding(
            k.key, k.action, k.footer, show=k.show, key_display=k.display, tooltip=k.description
        )
        for k in APP_KEYS
    ]

    range_key: reactive[str] = reactive("1h", init=False)
    paused: reactive[bool] = reactive(False, init=False)

    @dataclass
    class WriterChanged(Message):
        """The writer watch's verdict (from its worker): gone, back through `gateway`, or still gone."""

        lost_pid: int
        gateway: Gateway | None
        error: str | None

    @dataclass
    class ServingStarted(Message):
        """The serving worker's result: serving, or why not."""

        serving: Stoppable | None
        error: str | None

    def __init__(
        self,
        gateway: Gateway,
        *,
        live: bool = False,
        feed: Feed | None = None,
        range_key: str = "1h",
        refresh_s: float = 2.0,
        clock: Clock | None = None,
        display_zone: ZoneInfo | None = None,
        rules: Iterable[Any] = (),
        show_timing: bool = True,
        watchdog: bool = True,
        start_feed: bool = True,
        alert_every_s: float = ALERT_EVERY_S,
        serve: bool = False,
        config_path: Path | None = None,
    ) -> None:
        super().__init__()
        self.gateway = gateway
        self.config_path = config_path  # --config FILE: settings read from it, pins written to it
        self.pins_version = 0  # bumped when a pin is added or removed (the overview re-fetches)
        self.live = live
        self.feed = feed
        self.clock: Clock = clock or utc_now
        self.display_zone = display_zone or ZoneInfo(DEFAULT_ZONE)
        self.rules = tuple(rules)
        self.alert_every_s = float(alert_every_s)
        self._alerts_due_at: float | None = None
        self.refresh_s = float(refresh_s)
        self.show_timing = show_timing
        self.keep: dict[str, Any] = {}  # what a screen leaves for its next instance
        self._watchdog = watchdog
        self._start_feed = start_feed
        self._serve = serve
        self.serving: Stoppable | None = None
        self.set_reactive(EcotopApp.range_key, range_key)
        # refresh cycle state
        self._timer: Any = None
        self._inflight: EcotopScreen | None = None
        self._again = False
        self.last_refresh_at: datetime | None = None
        self.last_query_ms: float | None = None
        self.refresh_count = 0
        self.last_error: str | None = None
        #: (screen query ms, alert rules ms or 0) of recent cycles, newest last
        self.refresh_log: deque[tuple[float, float]] = deque(maxlen=500)
        self.data_as_of: datetime | None = None  # newest data (static files), set by fetches
        #: The file cannot change while we hold it: a local read-only open (no writer can open it
        #: meanwhile, DuckDB's rule), not served by another process, no feed. Screens re-use results.
        self.immutable = not live and gateway.immutable
        self.last_cached = False
        # pause bookkeeping
        self.paused_at: datetime | None = None
        self._paused_total = 0
        # alerts
        self.alerts: list[AlertResult] = []
        self._firing: set[str] = set()
        self._alerts_judged = False
        self._lost_writer: int | None = None  # PID of a serving writer that went away

    # -- the screens -----------------------------------------------------------------------------

    def get_default_screen(self) -> Screen:
        from ecotop.tui.screens.overview import OverviewScreen

        return OverviewScreen()

    # -- time ------------------------------------------------------------------------------------

    @property
    def db(self) -> Any:
        """The store object under the gateway (for tests and the writer side; screens never use it)."""
        return self.gateway.database  # type: ignore[attr-defined]

    def current_as_of(self) -> datetime:
        """The end of the windows on screen: the clock when live, else the newest data's minute.

        Never queries: the refresh worker sets `data_as_of` (from the gateway) before the first
        fetch; until then the clock stands in.
        """
        if self.live:
            return self.clock()
        return self.data_as_of or self.clock()

    def local(self, ts: datetime) -> datetime:
        """`ts` in the display zone."""
        if ts.tzinfo is None:
            ts = ts.replace(tzinfo=UTC)
        return ts.astimezone(self.display_zone)

    def stale_since(self) -> datetime | None:
        """When live data stopped arriving (None while it arrives, or when not live)."""
        if not self.live or self.feed is None:
            return None
        last = self.feed.last_append_at
        now = self.clock()
        # the simulator reports every interval it covered (a quiet minute is not stale); a spool
        # feed only when a file arrived
        if isinstance(self.feed, LiveFeed):
            last = self.feed.last_event_until or last
        if self.feed.error is not None:
            return last or now
        limit = max(STALE_AFTER, timedelta(seconds=3 * self.feed.interval_s))
        if last is None:
            return None
        return last if now - last > limit else None

    # -- the refresh cycle -----------------------------------------------------------------------

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

    # -- alerts ----------------------------------------------------------------------------------

    def set_alerts(self, alerts: list[AlertResult]) -> None:
        """Keep the latest alert results; ring the bell once when an alert starts firing."""
        self.alerts = list(alerts)
        self._alerts_judged = True
        firing = {alert_key(a) for a in self.alerts if alert_state(a) in ("WARNING", "CRITICAL")}
        if firing - self._firing:
            self.bell()
        self._firing = firing

    def firing_for(self, measure_id: str) -> str | None:
        """ "CRITICAL", "WARNING" or None for a measure id like "pay.success_rate"."""
        worst = None
        for a in self.alerts:
            if a.measure == measure_id:
                s = alert_state(a)
                if s == "CRITICAL":
                    return s
                if s == "WARNING":
                    worst = s
        return worst

    # -- status ----------------------------------------------------------------------------------

    def status(self) -> Status:
        """What the status bar shows, read from the app's state (no data work)."""
        feed = self.feed
        return Status(
            live=self.live,
            paused=self.paused,
            paused_at=self.paused_at,
            paused_events=self.paused_events(),
            writer_pid=self.gateway.writer_pid,
            as_of=self.last_refresh_at if self.live else self.data_as_of,
            stale_since=self.stale_since(),
            range_key=self.range_key,
            events_per_s=feed.events_per_s() if feed is not None and self.live else None,
            show_timing=self.show_timing,
            refreshed_at=self.last_refresh_at,
            query_ms=self.last_query_ms,
            cached=self.last_cached,
            refresh_s=self.refresh_s,
            error=self.last_error,
            feed_error=None if feed is None or feed.error is None else _first(feed.error),
            alerts=tuple(alert_state(a) for a in self.alerts),
            zone=self.display_zone,
        )

    def _update_status(self) -> None:
        screen = self.screen
        if isinstance(screen, EcotopScreen):
            screen.show_status(self.status())

    def paused_events(self) -> int:
        if self.feed is None or not self.paused:
            return 0
        return self.feed.total - self._paused_total

    # -- lifecycle -------------------------------------------------------------------------------

    def on_mount(self) -> None:
        arm_ui_thread_guard()  # tests: data work on this thread from here on raises
        if self.feed is not None and self._start_feed:
            self.feed.start()
        if self._serve:
            # after the first paint, in a worker: importing Arrow Flight and binding the socket
            self.call_after_refresh(self._start_serving)
        if self._watchdog and not self.is_headless:
            self._install_watchdog()
        if self.gateway.writer_pid is not None:
            # a reader through another process's socket notices within a second when it goes away
            self.set_interval(1.0, self._watch_writer, name="writer-watch")
        # The first refresh starts when the default screen is resumed (after the first paint).

    def _watch_writer(self) -> None:
        if self.gateway.writer_pid is not None or self._lost_writer is not None:
            self._check_writer(self.gateway, self._lost_writer)

    @work(thread=True, exclusive=True, exit_on_error=False, group="writer-watch")
    def _check_writer(self, gateway: Gateway, lost: int | None) -> None:
        """When the writer this app reads through went away: keep the screen, say so, and reopen
        (through a new writer, or the file directly) as soon as that works. A worker: the ping and
        the reopen wait on a socket."""
        if lost is None:
            status = gateway.writer()
            if status.alive or status.pid is None:
                return
            lost = status.pid
        try:
            new = open_gateway(gateway.path)
        except StoreError as exc:
            self.post_message(self.WriterChanged(lost, None, str(exc)))
            return
        with contextlib.suppress(Exception):
            gateway.close()
        self.post_message(self.WriterChanged(lost, new, None))

    def on_ecotop_app_writer_changed(self, message: WriterChanged) -> None:
        if message.gateway is None:
            self._lost_writer = message.lost_pid
            self.last_error = f"writer PID {message.lost_pid} went away; retrying ({message.error})"
            self._update_status()
            return
        self._lost_writer = None
        self.gateway = message.gateway
        self.data_as_of = None
        pid = message.gateway.writer_pid
        how = f"now via PID {pid}" if pid is not None else "reading the file directly"
        self.last_error = None
        self.notify(f"writer PID {message.lost_pid} went away; {how}", severity="warning")
        self.request_refresh()

    @work(thread=True, exclusive=True, exit_on_error=False, group="serve")
    def _start_serving(self) -> None:
        """Serve the file to other ecotop processes while this one holds it for writing."""
        try:
            serving = self.gateway.serve()
        except Exception as exc:  # other processes then see "locked by PID"; the app goes on
            self.post_message(
                self.ServingStarted(None, f"cannot serve {self.gateway.path}: {exc!r}")
            )
            return
        self.post_message(self.ServingStarted(serving, None))

    def on_ecotop_app_serving_started(self, message: ServingStarted) -> None:
        if message.error is not None:
            self.log.warning(message.error)
        if not self.is_running and message.serving is not None:
            message.serving.stop()  # the app quit meanwhile
            return
        self.serving = message.serving

    def on_resize(self, event: Any) -> None:
        small = event.size.width < MIN_SIZE[0] or event.size.height < MIN_SIZE[1]
        showing = isinstance(self.screen, TooSmallScreen)
        if small and not showing:
            self.push_screen(TooSmallScreen())
        elif not small and showing:
            self.pop_screen()

    async def action_quit(self) -> None:
        self.shutdown()
        self.exit()

    def shutdown(self) -> None:
        """Stop the live thread and close the file (idempotent)."""
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        if self.feed is not None:
            self.feed.stop()
        if self.serving is not None:
            self.serving.stop()
            self.serving = None

    def on_unmount(self) -> None:
        self.shutdown()
        disarm_ui_thread_guard()

    def _install_watchdog(self) -> None:
        """Exit when the terminal goes away (SSH drop): SIGHUP, or stdin no longer a terminal."""
        try:
            import asyncio

            loop = asyncio.get_running_loop()
            loop.add_signal_handler(signal.SIGHUP, self._terminal_lost)
        except (RuntimeError, NotImplementedError, ValueError, AttributeError):
            pass
        self._ppid = os.getppid()
        self.set_interval(2.0, self._check_terminal, name="tty-watchdog")

    def _check_terminal(self) -> None:
        try:
            stdin = sys.__stdin__
            if stdin is None:
                raise ValueError("no stdin")
            fd = stdin.fileno()
            ok = os.isatty(fd)
            if ok:
                import termios

                termios.tcgetattr(fd)
        except (OSError, ValueError, AttributeError):
            ok = False
        if not ok or os.getppid() != self._ppid:
            self._terminal_lost()

    def _terminal_lost(self) -> None:
        self.shutdown()
        self.exit(return_code=1)

    # -- actions ---------------------------------------------------------------------------------

    def watch_range_key(self) -> None:
        self._update_status()
        self.request_refresh()

    def action_cycle_range(self) -> None:
        from ecotop.queries import next_range

        self.range_key = next_range(self.range_key)
        self.notify(f"time range {self.range_key}", timeout=1.5)

    def action_pause(self) -> None:
        self.paused = not self.paused

    def watch_paused(self, paused: bool) -> None:
        if paused:
            self.paused_at = self.clock()
            self._paused_total = self.feed.total if self.feed is not None else 0
        else:
            self.paused_at = None
            target = self._refresh_target()
            if target is not None:
                target.apply_pending()
            self.request_refresh()
        self._update_status()

    def action_refresh_now(self) -> None:
        if self.paused:
            self.paused = False
            return
        self.request_refresh()

    def _step_refresh(self, direction: int) -> None:
        steps = list(REFRESH_STEPS)
        cur = min(range(len(steps)), key=lambda i: abs(steps[i] - self.refresh_s))
        self.refresh_s = steps[max(0, min(len(steps) - 1, cur + direction))]
        self.notify(f"refresh every {self.refresh_s:g} s", timeout=1.5)
        self._update_status()
        if self._inflight is None and not self.paused:
            self._schedule()

    def action_faster(self) -> None:
        self._step_refresh(-1)

    def action_slower(self) -> None:
        self._step_refresh(+1)

    def action_help(self) -> None:
        from ecotop.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_alerts(self) -> None:
        from ecotop.tui.screens.alerts import AlertsScreen

        if not isinstance(self.screen, AlertsScreen):
            self.push_screen(AlertsScreen())

    def action_pillar(self, n: int) -> None:
        from ecotop.queries import PILLARS
        from ecotop.tui.screens.pillar import PillarScreen

        pillar = list(PILLARS)[int(n) - 1]
        if isinstance(self.screen, PillarScreen):
            if self.screen.pillar == pillar:
                return
            self.switch_screen(PillarScreen(pillar))
        else:
            self.push_screen(PillarScreen(pillar))

    def action_merchants(self) -> None:
        from ecotop.tui.screens.merchants import MerchantsScreen  # loaded on first use

        if type(self.screen) is not MerchantsScreen:
            self.push_screen(MerchantsScreen())

    def action_console(self) -> None:
        from ecotop.tui.screens.console import ConsoleScreen  # loaded on first use

        if type(self.screen) is not ConsoleScreen:
            self.push_screen(ConsoleScreen())

    def on_open_merchant(self, message: OpenMerchant) -> None:
        from ecotop.tui.screens.merchants import MerchantScreen

        message.stop()
        self.push_screen(MerchantScreen(message.merchant_id))

    def action_export(self) -> None:
        self.notify("nothing to export on this screen (try the SQL console `:`)", timeout=3)

    def action_filter(self) -> None:
        self.notify("nothing to filter on this screen (try a pillar view 1-7)", timeout=3)


def alert_key(a: AlertResult) -> str:
    """One firing alert's identity (its rule and measure), to ring the bell once per start."""
    return f"name:{a.rule.name}:{a.measure}"


def _first(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def __getattr__(name: str) -> Any:
    # The factory imports this module; its names stay importable from here (tests, the command).
    if name in ("make_app", "load_settings", "demo_path", "resolve_zone", "DASHBOARD_MEMORY_LIMIT"):
        from ecotop.tui import factory

        return getattr(factory, name)
    raise AttributeError(name)
