"""The ecotop Textual app and its factory `make_app` (used by the `dashboard` command and by tests).

The app owns the database, the one refresh cycle (see tui/screens/base.py for the screen contract),
the live simulator thread, the time range, pause, the alert state and the app-wide keys.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from textual.app import App
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.reactive import reactive
from textual.screen import Screen

from ecotop.store.errors import BadInput, NotGenerated
from ecotop.tui.keys import APP_KEYS
from ecotop.tui.screens.base import EcotopScreen, OpenMerchant, RefreshContext

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


def resolve_zone(*candidates: str | None) -> ZoneInfo:
    """The first valid zone name among `candidates` (flags, env, config, file), else Shanghai."""
    for name in candidates:
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                raise BadInput(
                    f"unknown time zone {name!r} (use a name like Asia/Shanghai)"
                ) from None
    return ZoneInfo(DEFAULT_ZONE)


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

    def __init__(
        self,
        db: Any,
        *,
        live: bool = False,
        feed: Any = None,
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
    ) -> None:
        super().__init__()
        self.db = db
        self.live = live
        self.feed = feed
        self.clock: Clock = clock or utc_now
        self.display_zone = display_zone or ZoneInfo(DEFAULT_ZONE)
        self.rules = tuple(rules)
        self.alert_every_s = float(alert_every_s)
        self._alerts_due_at: float | None = None
        self.refresh_s = float(refresh_s)
        self.show_timing = show_timing
        self._watchdog = watchdog
        self._start_feed = start_feed
        self._serve = serve
        self.serving: Any = None
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
        self.immutable = (
            not live and bool(getattr(db, "read_only", False)) and not getattr(db, "remote", False)
        )
        self.last_cached = False
        # pause bookkeeping
        self.paused_at: datetime | None = None
        self._paused_total = 0
        # alerts
        self.alerts: list[Any] = []
        self._firing: set[str] = set()
        self._alerts_judged = False
        self._lost_writer: int | None = None  # PID of a serving writer that went away

    # -- the screens -----------------------------------------------------------------------------

    def get_default_screen(self) -> Screen:
        from ecotop.tui.screens.overview import OverviewScreen

        return OverviewScreen()

    # -- time ------------------------------------------------------------------------------------

    def current_as_of(self) -> datetime:
        """The end of the windows on screen: the clock when live, else the newest data's minute."""
        if self.live:
            return self.clock()
        if self.data_as_of is not None:
            return self.data_as_of
        from ecotop.queries import resolve_as_of

        cur = self.db.cursor()
        try:
            self.data_as_of = resolve_as_of(cur, live=False)
        finally:
            cur.close()
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
        last = getattr(self.feed, "last_event_until", None) or last
        if self.feed.error is not None:
            return last or now
        limit = max(STALE_AFTER, timedelta(seconds=3 * getattr(self.feed, "interval_s", 1.0)))
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
        rules: tuple[Any, ...] = ()
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
        alerts: list[Any] | None = None,
        alerts_ms: float = 0.0,
        cached: bool = False,
    ) -> None:
        """A screen's refresh ended (or its screen went away): record it, schedule the next."""
        if screen is not None and self._inflight is not None and screen is not self._inflight:
            return  # a stale result of a screen that is no longer the target
        self._inflight = None
        self.refresh_count += 1
        self.last_refresh_at = self.clock()
        self.last_cached = cached
        if elapsed_ms is not None:
            self.last_query_ms = elapsed_ms
            self.refresh_log.append((elapsed_ms - alerts_ms, alerts_ms))
        if error is not None:
            self.last_error = _one_line(error)
            self.log.error(f"refresh failed: {error!r}")
            if getattr(self.db, "remote", False):
                self._check_writer()
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

    def set_alerts(self, alerts: list[Any]) -> None:
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
            if (
                getattr(a, "measure", None) == measure_id
                or getattr(a, "measure_id", None) == measure_id
            ):
                s = alert_state(a)
                if s == "CRITICAL":
                    return s
                if s == "WARNING":
                    worst = s
        return worst

    # -- status ----------------------------------------------------------------------------------

    def _update_status(self) -> None:
        try:
            from ecotop.tui.widgets.status import StatusBar

            for bar in self.screen.query(StatusBar):
                bar.update_from_app()
        except Exception:  # no status bar on this screen
            pass

    def paused_events(self) -> int:
        if self.feed is None or not self.paused:
            return 0
        return self.feed.total - self._paused_total

    # -- lifecycle -------------------------------------------------------------------------------

    def on_mount(self) -> None:
        if self.feed is not None and self._start_feed:
            self.feed.start()
        if self._serve:
            # after the first paint: importing Arrow Flight costs start-up time
            self.call_after_refresh(self._start_serving)
        if self._watchdog and not self.is_headless:
            self._install_watchdog()
        if getattr(self.db, "remote", False):
            # a reader through another process's socket notices within a second when it goes away
            self.set_interval(1.0, self._check_writer, name="writer-watch")
        # The first refresh starts when the default screen is resumed (after the first paint).

    def _check_writer(self) -> None:
        """When the writer this app reads through went away: keep the screen, say so, and reopen
        (through a new writer, or the file directly) as soon as that works."""
        from ecotop.store.remote import pid_alive

        db = self.db
        if self._lost_writer is None:
            if not getattr(db, "remote", False) or (pid_alive(db.pid) and db.ping()):
                return
            self._lost_writer = db.pid
        from ecotop.store import open_db
        from ecotop.store.errors import StoreError

        try:
            new = open_db(db.path)
        except StoreError as exc:
            self.last_error = f"writer PID {self._lost_writer} went away; retrying ({exc})"
            self._update_status()
            return
        old = self._lost_writer
        self._lost_writer = None
        with contextlib.suppress(Exception):
            db.close()
        self.db = new
        self.data_as_of = None
        how = (
            f"now via PID {new.pid}"
            if getattr(new, "remote", False)
            else "reading the file directly"
        )
        self.last_error = None
        self.notify(f"writer PID {old} went away; {how}", severity="warning")
        self.request_refresh()

    def _start_serving(self) -> None:
        """Serve the file to other ecotop processes while this one holds it for writing."""
        try:
            from ecotop import queries
            from ecotop.store.server import Serving

            self.serving = Serving(self.db, named=lambda name: queries.get(name).sql)
        except Exception as exc:  # other processes then see "locked by PID"; the app goes on
            self.log.warning(f"cannot serve {self.db.path}: {exc!r}")
            self.serving = None

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
            fd = sys.__stdin__.fileno()
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

    def _push_lazy(self, module: str, name: str, *args: Any) -> None:
        import importlib

        try:
            mod = importlib.import_module(module)
            cls = getattr(mod, name)
        except (ModuleNotFoundError, AttributeError):
            self.notify(f"{name} is not available yet", severity="warning")
            return
        if type(self.screen) is cls and not args:
            return
        self.push_screen(cls(*args))

    def action_merchants(self) -> None:
        self._push_lazy("ecotop.tui.screens.merchants", "MerchantsScreen")

    def action_console(self) -> None:
        self._push_lazy("ecotop.tui.screens.console", "ConsoleScreen")

    def on_open_merchant(self, message: OpenMerchant) -> None:
        message.stop()
        self._push_lazy("ecotop.tui.screens.merchants", "MerchantScreen", message.merchant_id)

    def action_export(self) -> None:
        self.notify("nothing to export on this screen (try the SQL console `:`)", timeout=3)

    def action_filter(self) -> None:
        self.notify("nothing to filter on this screen (try a pillar view 1-7)", timeout=3)


def alert_state(a: Any) -> str:
    s = getattr(a, "state", None)
    s = getattr(s, "name", s)
    return str(s or "UNKNOWN").upper()


def alert_key(a: Any) -> str:
    for attr in ("name", "rule", "id", "measure", "measure_id"):
        v = getattr(a, attr, None)
        if v is not None:
            return f"{attr}:{getattr(v, 'name', v)}:{getattr(a, 'measure', '')}"
    return repr(a)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def demo_path() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("ecotop")) / "demo.duckdb"


#: DuckDB memory for the dashboard unless configured: keeps the process well under 400 MB at scale 1.
DASHBOARD_MEMORY_LIMIT = "256MB"


def make_app(
    path: Path | None = None,
    *,
    live: bool = False,
    spool: Path | None = None,
    range_key: str | None = None,
    refresh_s: float | None = None,
    config_path: Path | None = None,
    clock: Clock | None = None,
    seed: int | None = None,
    rate: float | None = None,
    display_zone: str | None = None,
    show_timing: bool = True,
    watchdog: bool = True,
    feed_interval_s: float = 1.0,
    start_feed: bool = True,
    rules: Iterable[Any] | None = None,
    alert_every_s: float = ALERT_EVERY_S,
    serve: bool = True,
    settings: Any = None,
) -> EcotopApp:
    """Open the file and build the app (no terminal work here; `app.run()` starts it).

    `path=None` uses the demo database (created by the caller, see tui.commands.dashboard) with live
    simulation. A file opens read-only unless `live` (the simulator needs a generated file: raises
    store.errors.NotGenerated otherwise). Settings not given here (range, refresh, display zone,
    alert rules, DuckDB limits) come from `tui.config.load(config_path)`: ECOTOP_* variables, then
    the user's config file, then the system's. `rules=()` turns alerts off. `start_feed=False`
    builds the live feed without starting its thread (`app.feed.step()` drives it in tests).
    Raises StoreError subclasses with one-line messages.
    """
    from ecotop.queries import parse_range
    from ecotop.store import open_db

    if settings is None:
        settings = load_settings(
            config_path, {"range": range_key, "refresh": refresh_s, "display_zone": display_zone}
        )
    range_key = parse_range(range_key or _config_get(settings, "range") or "1h")
    refresh_s = float(
        refresh_s if refresh_s is not None else _config_get(settings, "refresh") or 2.0
    )
    if refresh_s <= 0:
        raise BadInput(f"refresh interval must be positive, not {refresh_s:g}")
    if path is None:
        path = demo_path()
        live = True
    if spool is not None:
        try:
            from ecotop.store.spool import SpoolFeed
        except ModuleNotFoundError:
            raise BadInput("--spool is not available in this build") from None
    db = open_db(path, write=bool(live or spool), limits=_limits(settings))
    try:
        meta = db.meta()
        if live and meta.get("generated") != "true":
            raise NotGenerated(Path(path))
        origin = _config_get(settings, "origin") or {}
        configured_zone = (
            _config_get(settings, "display_zone")
            if origin.get("display_zone", "default") != "default"
            else None
        )
        zone = resolve_zone(
            display_zone,
            os.environ.get("ECOTOP_DISPLAY_ZONE"),
            configured_zone,
            meta.get("display_zone"),
        )
        if rules is None:
            rules = tuple(_config_get(settings, "alerts") or ())
        feed = None
        if live:
            feed = _make_feed(db, meta, clock=clock, seed=seed, rate=rate, interval=feed_interval_s)
        elif spool is not None:
            feed = SpoolFeed(db, Path(spool), clock=clock)
    except BaseException:
        db.close()
        raise
    app = EcotopApp(
        db,
        live=bool(live or spool),
        serve=serve and not db.read_only,
        feed=feed,
        range_key=range_key,
        refresh_s=refresh_s,
        clock=clock,
        display_zone=zone,
        rules=rules,
        show_timing=show_timing,
        watchdog=watchdog,
        start_feed=start_feed,
        alert_every_s=alert_every_s,
    )
    theme = _config_get(settings, "theme")
    if theme and theme in app.available_themes:
        app.theme = theme
    return app


def load_settings(config_path: Path | None, flags: dict[str, Any]) -> Any:
    """ecotop.tui.config.load with the flags given (None values ignored); None without the module."""
    try:
        from ecotop.tui import config as cfg
    except ModuleNotFoundError:
        if config_path is not None and not Path(config_path).exists():
            raise BadInput(f"{config_path}: no such config file") from None
        return None
    return cfg.load(config_path, flags={k: v for k, v in flags.items() if v is not None})


def _limits(settings: Any) -> Any:
    from ecotop.store import Limits

    limits = settings.limits() if settings is not None and hasattr(settings, "limits") else Limits()
    configured = _config_get(settings, "memory_limit") or os.environ.get("ECOTOP_MEMORY_LIMIT")
    if not configured:
        from dataclasses import replace

        limits = replace(limits, memory_limit=DASHBOARD_MEMORY_LIMIT)
    return limits


def _make_feed(
    db: Any,
    meta: dict[str, str],
    *,
    clock: Clock | None,
    seed: int | None,
    rate: float | None,
    interval: float,
) -> Any:
    from ecotop.tui.live import LiveFeed

    try:
        from ecotop.sample_data.live import EventStream
    except ModuleNotFoundError:
        raise BadInput(
            "live simulation is not available in this build (no sample_data.live)"
        ) from None
    scale = float(meta.get("scale", "0.05") or 0.05)
    # The file's own seed continues its history (same users, merchants and daily curve).
    s = int(seed if seed is not None else int(meta.get("seed", "0") or 0))
    try:
        stream = EventStream(
            scale, s, display_zone=meta.get("display_zone") or DEFAULT_ZONE, rate=rate
        )
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    return LiveFeed(db, stream, clock=clock, interval_s=interval)


def _config_get(config: Any, key: str) -> Any:
    if config is None:
        return None
    if isinstance(config, dict):
        return config.get(key)
    return getattr(config, key, None)


def run_time_ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000
