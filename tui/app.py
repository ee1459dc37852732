"""The ecotop Textual app: the one refresh cycle, the time range, pause, alert state and app keys.

The app holds a `queries.gateway.Gateway` (the only way to the data) and never calls it on its own
thread: screens call it from their refresh workers (tui/screens/base.py), the writer watch and the
serving start run in thread workers here. Built by `tui.factory.make_app` (re-exported below).
See docs/ARCHITECTURE.md.

One piece over ~500 lines: the app's state and its key actions (range, baseline, pause, refresh rate,
screens, quit); the cycle (tui/cycle.py), the watches (tui/watchdogs.py) and the factory are apart.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar
from zoneinfo import ZoneInfo

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.reactive import reactive
from textual.screen import Screen

from ecotop.queries.errors import BadInput
from ecotop.queries.gateway import (
    Gateway,
    Stoppable,
    arm_ui_thread_guard,
    disarm_ui_thread_guard,
)
from ecotop.tui.cycle import RefreshCycle
from ecotop.tui.keys import APP_KEYS
from ecotop.tui.live import Feed
from ecotop.tui.screens.base import EcotopScreen, OpenMerchant
from ecotop.tui.status import Status, alert_state

if TYPE_CHECKING:
    from ecotop.queries.alerts import AlertResult

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
    """The command palette (ctrl+p): every action by name with its key, the pillars by name
    (`wecom` finds "6 WeCom"), and merchants by name (from the list's cached names, else a hit that
    opens the list filtered by what was typed)."""

    def _commands(self) -> list[tuple[str, str, Callable[[], Any]]]:
        from ecotop.queries.measures import PILLARS

        app = self.app
        names = list(PILLARS.values())
        out: list[tuple[str, str, Callable[[], Any]]] = []
        for k in APP_KEYS:
            if k.action.startswith("pillar("):
                n = int(k.display)
                title = f"Pillar {n}: {names[n - 1]} · key {n}"
                out.append(
                    (
                        title,
                        "open its measures, charts and tables",
                        partial(app.run_action, k.action),
                    )
                )
                continue
            out.append(
                (f"{k.description} · key {k.display}", "", partial(app.run_action, k.action))
            )
        return out

    def _merchants(self, query: str, limit: int = 8) -> list[tuple[str, str, Callable[[], Any]]]:
        """Merchants whose name, industry or city contains `query`, from names already in memory
        (the merchant list caches them); no data is read here, on the UI thread."""
        from ecotop.tui.screens import merchants as m

        text = query.strip()
        out: list[tuple[str, str, Callable[[], Any]]] = []
        if len(text) < 2:
            return out
        app = self.app
        cached = next(iter(m._DIMS.values()), None)
        if cached is not None:
            import pyarrow.compute as pc

            dims = cached[1]
            hits = dims.filter(pc.match_substring(dims["_key"], pattern=text.lower()))
            for row in hits.slice(0, limit).to_pylist():
                mid = int(row["merchant_id"])
                title = f"Merchant: {row['name']} ({row['city']}, #{mid})"
                out.append(
                    (title, "open its closed loop", partial(app.post_message, OpenMerchant(mid)))
                )
        out.append(
            (
                f"Merchants matching “{text}”",
                "open the merchant list filtered",
                partial(app.open_merchants, text),  # type: ignore[attr-defined]
            )
        )
        return out

    async def discover(self) -> Hits:
        for title, help_text, cb in self._commands():
            yield DiscoveryHit(title, cb, help=help_text or None)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, cb in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), cb, help=help_text or None)
        for title, help_text, cb in self._merchants(query):
            yield Hit(0.5, title, cb, help=help_text)


class TooSmallScreen(Screen[None]):
    """Shown instead of everything when the terminal is below MIN_SIZE."""

    DEFAULT_CSS = """
    TooSmallScreen { align: center middle; }
    TooSmallScreen > #too-small { width: auto; height: auto; content-align: center middle; }
    """

    BINDINGS: ClassVar = [Binding("q", "app.quit", "Quit")]

    def compose(self) -> ComposeResult:
        from textual.widgets import Static

        w, h = MIN_SIZE
        yield Static(f"terminal too small\nneed at least {w}x{h}\nq quits", id="too-small")


class EcotopApp(RefreshCycle):
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
    #: The baseline `b` chose (previous, day, week); None: the range's default (see `baseline`).
    baseline_choice: reactive[str | None] = reactive(None, init=False)
    paused: reactive[bool] = reactive(False, init=False)

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
        demo_factor: float | None = None,
    ) -> None:
        super().__init__()
        #: The demo's simulator runs this many times the history's rate (the status bar says so).
        self.demo_factor = demo_factor
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

    def get_default_screen(self) -> Screen[Any]:
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
        last = self.feed.last_event_until or last
        if self.feed.error is not None:
            return last or now
        limit = max(STALE_AFTER, timedelta(seconds=3 * self.feed.interval_s))
        if last is None:
            return None
        return last if now - last > limit else None

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
            baseline=self.baseline,
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
            demo_factor=self.demo_factor,
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

    def on_resize(self, event: Any) -> None:
        small = event.size.width < MIN_SIZE[0] or event.size.height < MIN_SIZE[1]
        showing = isinstance(self.screen, TooSmallScreen)
        if small and not showing:
            self.push_screen(TooSmallScreen())
        elif not small and showing:
            self.pop_screen()

    async def action_quit(self) -> None:
        """Quit; while a spool feed ingests (`--spool`), ask once first: quitting stops the feed.
        The simulated demo and `--live` quit at once (nothing is lost)."""
        from ecotop.tui.screens.confirm import Confirm

        if isinstance(self.screen, Confirm):
            return
        feed = self.feed
        if feed is not None and feed.asks_before_quit:

            def answered(yes: bool | None) -> None:
                if yes:
                    self.shutdown()
                    self.exit()

            question = "Quit? Spool ingestion stops (the file in hand finishes first)."
            self.push_screen(Confirm(question, again="q"), answered)
            return
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

    # -- actions ---------------------------------------------------------------------------------

    def watch_range_key(self) -> None:
        self._update_status()
        self.request_refresh()

    @property
    def baseline(self) -> str:
        """What the changes compare with: `b`'s choice, else the same time last week for ranges up
        to 24h (the daily curve does not read as a fall at night) and the previous window beyond."""
        if self.baseline_choice is not None:
            return self.baseline_choice
        from ecotop.queries.windows import range_length

        return "previous" if range_length(self.range_key) > timedelta(hours=24) else "week"

    def watch_baseline_choice(self) -> None:
        self._update_status()
        self.request_refresh()

    def action_cycle_baseline(self) -> None:
        from ecotop.queries.windows import next_baseline
        from ecotop.tui.status import baseline_label

        self.baseline_choice = next_baseline(self.baseline)
        self.say(f"changes {baseline_label(self.baseline, self.range_key)}")

    def say(self, message: str, timeout: float = 2.0) -> None:
        """One updating notice: it replaces the previous one instead of stacking (`+` pressed seven
        times leaves one toast, not seven over the status bar)."""
        from contextlib import suppress

        from textual.notifications import Notification, Notify

        old = getattr(self, "_said", None)
        if old is not None:
            with suppress(KeyError):  # it may have timed out already
                self._unnotify(old, refresh=False)
        self._said = Notification(message, "", "information", timeout)
        self.post_message(Notify(self._said))

    def action_cycle_range(self) -> None:
        from ecotop.queries import next_range

        self.range_key = next_range(self.range_key)
        self.say(f"time range {self.range_key}")

    def action_cycle_range_back(self) -> None:
        from ecotop.queries.windows import next_range

        self.range_key = next_range(self.range_key, -1)
        self.say(f"time range {self.range_key}")

    def set_range(self, text: str) -> bool:
        """Show the range typed as `text` (`3h`, `2d`, `45m`: 1m to 30d). Bad text: one notice,
        nothing changes. Returns whether the range was taken."""
        from ecotop.queries.windows import parse_range

        try:
            key = parse_range(text)
        except BadInput as exc:
            self.say(_first(exc), timeout=4)
            return False
        self.range_key = key
        self.say(f"time range {key}")
        return True

    def jump(self, line: str) -> str | None:
        """Run a k9s-style jump typed in the console: `:merchant NAME`, `:pillar wecom` (or 1-7),
        `:range 3h`. Returns None when it was done, else one line saying what is wrong."""
        from ecotop.queries.measures import PILLARS

        verb, _, arg = line.strip().lstrip(":").strip().partition(" ")
        verb, arg = verb.lower(), arg.strip()
        if verb in ("pillar", "p"):
            keys = list(PILLARS)
            wanted = arg.lower()
            hits = [
                i
                for i, (k, title) in enumerate(PILLARS.items(), 1)
                if wanted in (str(i), k.lower(), title.lower())
            ] or [
                i for i, (k, t) in enumerate(PILLARS.items(), 1) if wanted and wanted in t.lower()
            ]
            if len(hits) != 1:
                return f"no pillar {arg!r}; use 1-{len(keys)} or one of {', '.join(keys)}"
            self.action_pillar(hits[0])
            return None
        if verb in ("merchant", "m"):
            if len(arg) < 1:
                return "which merchant? :merchant NAME"
            self._jump_merchant(arg)
            return None
        if verb in ("range", "r", "t"):
            return None if self.set_range(arg) else "bad range: use 45m, 3h, 2d (1m to 30d)"
        return f"unknown command :{verb}; use :merchant NAME, :pillar NAME or :range 3h"

    @work(thread=True, exclusive=True, exit_on_error=False, group="jump")
    def _jump_merchant(self, text: str) -> None:
        """Find merchants whose name, industry or city contains `text` (the list's `/` filter): one
        opens its view, several open the list filtered, none says so."""
        import pyarrow.compute as pc

        from ecotop.tui.screens import merchants as m
        from ecotop.tui.screens.base import with_cursor

        key = str(self.gateway.path)  # the list's cache key (merchants._db_key)
        try:
            dims, _ = with_cursor(self.gateway, lambda cur: m._dims(cur, key))
        except Exception as exc:  # a read that fails says so in one line, as a refresh would
            self.call_from_thread(self.say, f"cannot read the merchants: {_first(exc)}", 4)
            return
        hits = dims.filter(pc.match_substring(dims["_key"], pattern=text.strip().lower()))
        if hits.num_rows == 1:
            self.call_from_thread(
                self.post_message, OpenMerchant(int(hits["merchant_id"][0].as_py()))
            )
        elif hits.num_rows == 0:
            self.call_from_thread(self.say, f"no merchant matches {text!r}", 4)
        else:
            self.call_from_thread(self.open_merchants, text)

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
        if self.paused:  # r while paused resumes (and says so): a refresh shows the newest data
            self.paused = False
            self.say("resumed: refreshing now")
            return
        self.request_refresh()

    def _step_refresh(self, direction: int) -> None:
        steps = list(REFRESH_STEPS)
        cur = min(range(len(steps)), key=lambda i: abs(steps[i] - self.refresh_s))
        self.refresh_s = steps[max(0, min(len(steps) - 1, cur + direction))]
        self.say(f"refresh every {self.refresh_s:g} s")
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

    def open_merchants(self, text: str = "") -> None:
        """The merchant list, filtered by `text` (the palette's "Merchants matching ...")."""
        from ecotop.tui.screens.merchants import MerchantsScreen

        screen = self.screen if type(self.screen) is MerchantsScreen else MerchantsScreen()
        if screen is not self.screen:
            self.push_screen(screen)
        if text:
            self.call_after_refresh(screen.set_filter, text)

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


def __getattr__(name: str) -> Any:
    # The factory imports this module; its names stay importable from here (tests, the command).
    if name in ("make_app", "load_settings", "demo_path", "resolve_zone", "DASHBOARD_MEMORY_LIMIT"):
        from ecotop.tui import factory

        return getattr(factory, name)
    raise AttributeError(name)
