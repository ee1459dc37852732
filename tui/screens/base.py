"""The screen contract every ecotop screen follows (overview, pillars, merchants, console, ...).

Refresh: the app runs ONE refresh cycle, never a timer per screen or panel.

1. When the cycle fires (every `app.refresh_s` seconds after the previous one *finished*, or at once on
   `r`, on a range change, or when a screen becomes current), the app calls
   `start_refresh(ctx)` on the top-most `EcotopScreen` of the stack. `ctx` is a `RefreshContext`:
   range key, live flag, `now` from the app's injected clock, the alert rules, and whether the
   result may be rendered.
2. `start_refresh` runs `fetch(cur, ctx)` in a thread worker
   (`@work(thread=True, exclusive=True, exit_on_error=False, group="refresh")`) with its own
   `self.gateway.cursor()` (a `queries.gateway.Cursor`), closed afterwards. The worker first
   resolves the file's as-of through the gateway when the app does not know it yet. `fetch` runs the queries and returns plain data; it
   never touches widgets. An exception is caught and reported, never raised into the app.
3. The worker posts `EcotopScreen.Fetched(data, error, elapsed_ms, alerts)` to the screen. Its
   handler, on the UI thread, hands alert results to the app (`app.set_alerts`), calls
   `received(data)` (bookkeeping, always), then `apply(data)` only when the screen is on top
   (`is_active`: not under a modal) and the app is not paused; otherwise it keeps the data and
   applies it when the screen is resumed or unpaused. `apply` updates only widgets whose value
   changed (fewer bytes to the terminal).
4. The handler then calls `self.app.refresh_finished(screen, elapsed_ms, error)`, and the app
   schedules the next cycle `refresh_s` later. A screen removed while its worker runs tells the app
   when it unmounts, so the cycle never stalls. (These handlers are `@on`-decorated: subclasses may
   define `on_screen_resume` / `on_unmount` / `on_ecotop_screen_fetched` and need not call super.)

While paused (`p`) the app starts no fetches at all; `r` resumes and refreshes at once. A screen
that has nothing to refresh (help, a modal) need not subclass `EcotopScreen`; while it is on top,
the `EcotopScreen` under it still fetches but does not render.

Screens subclass `EcotopScreen` and override `fetch(cur, ctx)` (thread: queries only, return plain
data) and `apply(data)` (UI thread: update widgets). Optional: `publish(data)` from `fetch` shows a
first part early (numbers before trends); `cache_key(ctx)` lets a screen re-use its last result
while the file cannot change (`app.immutable`: opened read-only here); `received(data)` for
bookkeeping on every result. Any screen can post `OpenMerchant(merchant_id)`
(e.g. `enter` on a merchant row); the app pushes `tui.screens.merchants.MerchantScreen(merchant_id)`.
`esc` pops back (bound here). Time: `ctx.now` / `app.clock()` (injected; never call
`datetime.now()` in a screen), `app.current_as_of()`, `app.local(ts)` for the display zone.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from textual import events, on, work
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen

from ecotop.queries.gateway import Cursor, Gateway
from ecotop.tui.host import Host
from ecotop.tui.status import Status

if TYPE_CHECKING:
    from ecotop.queries.alerts import AlertResult, Rule

T = TypeVar("T")


@dataclass
class OpenMerchant(Message):
    """Ask the app to open one merchant's drill-down (`MerchantScreen(merchant_id)`)."""

    merchant_id: int

    def __post_init__(self) -> None:
        super().__post_init__()
        self.merchant_id = int(self.merchant_id)  # a row key may arrive as text


@contextmanager
def gateway_cursor(gateway: Gateway) -> Iterator[Cursor]:
    """One cursor of `gateway` for this worker, always closed (the one place workers get one)."""
    cur = gateway.cursor()
    try:
        yield cur
    finally:
        with contextlib.suppress(Exception):
            cur.close()


def with_cursor(gateway: Gateway, fn: Callable[[Cursor], T]) -> T:
    """Run `fn` on one cursor of `gateway` (in a worker thread) and close the cursor."""
    with gateway_cursor(gateway) as cur:
        return fn(cur)


@dataclass(frozen=True)
class RefreshContext:
    """What a screen's fetch needs to know about this cycle (built by the app, read in a thread)."""

    range_key: str
    live: bool
    now: datetime
    render: bool = True
    baseline: str = "previous"  # what changes compare with: previous, day or week
    rules: tuple[Rule, ...] = ()
    as_of: datetime | None = None  # the file's newest data when known (None: the worker asks)
    extra: dict[str, Any] = field(default_factory=dict)


def evaluate_alerts(cur: Cursor, ctx: RefreshContext) -> list[AlertResult]:
    """Evaluate the alert rules on `cur` (queries.alerts, written alongside the `check` command)."""
    from ecotop.queries import alerts as qalerts

    return list(qalerts.evaluate(cur, list(ctx.rules), live=ctx.live, now=ctx.now))


class EcotopScreen(Screen[None]):
    """A screen refreshed by the app's single cycle: override `fetch` (thread) and `apply` (UI)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", show=True),
    ]

    #: Whether `escape` pops this screen (the overview is the bottom of the stack).
    can_go_back: ClassVar[bool] = True

    @dataclass
    class Fetched(Message):
        """A refresh worker's result, posted to the screen that started it."""

        data: Any
        error: BaseException | None
        elapsed_ms: float
        alerts: list[AlertResult] | None = None
        alerts_ms: float = 0.0
        cached: bool = False
        as_of: datetime | None = None

    @dataclass
    class Partial(Message):
        """Part of a refresh posted early by `publish()` (e.g. numbers before their trends)."""

        data: Any

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pending: Any = None  # data fetched while hidden or paused, applied on resume
        self._has_pending = False
        self.last_data: Any = None
        self._last_key: Any = None  # cache_key of last_data
        self._fetch_key: Any = None  # cache_key of the fetch in flight

    @property
    def ecotop(self) -> Host:
        """The app, as screens may use it (tui.host.Host)."""
        return self.app  # type: ignore[return-value]

    @property
    def gateway(self) -> Gateway:
        """The app's way to the data (call it from workers only)."""
        return self.ecotop.gateway

    def show_status(self, status: Status) -> None:
        """Hand the app's status to this screen's status bar, if it has one."""
        from ecotop.tui.widgets.status import StatusBar

        for bar in self.query(StatusBar):
            bar.show(status)

    # -- the contract ---------------------------------------------------------------------------

    def fetch(self, cur: Cursor, ctx: RefreshContext) -> Any:
        """Run the queries of this screen on `cur` (in a worker thread) and return plain data."""
        return None

    def apply(self, data: Any) -> None:
        """Show `data` (on the UI thread); update only widgets whose value changed."""

    def received(self, data: Any) -> None:
        """Every successful fetch, on the UI thread, shown or not (bookkeeping, not rendering)."""

    def publish(self, data: Any) -> None:
        """From `fetch` (the worker thread): show `data` now, before the rest of the fetch ends."""
        self.post_message(self.Partial(data))

    def cache_key(self, ctx: RefreshContext) -> Any:
        """What `fetch` depends on besides the data (e.g. the range), or None to always fetch.

        When the file cannot change (`app.immutable`: opened read-only here, so no process can
        write it while we hold it) and the key equals the last fetch's, the cycle re-uses that
        result without a query. Screens whose fetch reads UI state (sort, filter) include it or
        return None (the default).
        """
        return None

    def start_refresh(self, ctx: RefreshContext) -> None:
        """Called by the app's cycle: fetch in a thread worker, then post `Fetched`."""
        key = self.cache_key(ctx)
        if (
            key is not None
            and self.ecotop.immutable
            and self.last_data is not None
            and key == self._last_key
            and not ctx.rules
        ):
            self.post_message(self.Fetched(self.last_data, None, 0.0, cached=True))
            return
        self._fetch_key = key
        self._refresh_worker(ctx)

    @work(thread=True, exclusive=True, exit_on_error=False, group="refresh")
    def _refresh_worker(self, ctx: RefreshContext) -> None:
        t0 = time.perf_counter()
        data: Any = None
        error: BaseException | None = None
        alerts: list[AlertResult] | None = None
        alerts_ms = 0.0
        as_of = ctx.as_of
        try:
            gateway = self.gateway
            if as_of is None and not ctx.live:
                as_of = gateway.as_of(live=False)
                # fetches read app.current_as_of(); the app keeps it when the result arrives
                self.ecotop.data_as_of = as_of
            with gateway_cursor(gateway) as cur:
                data = self.fetch(cur, ctx)
                if ctx.rules:
                    t1 = time.perf_counter()
                    alerts = evaluate_alerts(cur, ctx)
                    alerts_ms = (time.perf_counter() - t1) * 1000
        except Exception as exc:  # reported in the status bar, never crashes the app
            error = exc
        elapsed = (time.perf_counter() - t0) * 1000
        self.post_message(self.Fetched(data, error, elapsed, alerts, alerts_ms, as_of=as_of))

    @on(Partial)
    def _ecotop_partial(self, message: Partial) -> None:
        message.stop()
        self.received(message.data)
        if self.visible_for_render():
            with self.app.batch_update():
                self.apply(message.data)

    @on(Fetched)
    def _ecotop_fetched(self, message: Fetched) -> None:
        message.stop()
        if message.alerts is not None:
            self.ecotop.set_alerts(message.alerts)  # before apply: tiles show their alert state
        if message.cached:
            self.ecotop.refresh_finished(self, None, None, cached=True)
            return
        if message.error is None:
            self.last_data = message.data
            self._last_key = self._fetch_key
            self.received(message.data)
            if self.visible_for_render():
                self._has_pending = False
                self._pending = None
                with self.app.batch_update():
                    self.apply(message.data)
            else:
                self._pending = message.data
                self._has_pending = True
        self.ecotop.refresh_finished(
            self,
            message.elapsed_ms,
            message.error,
            alerts_ms=message.alerts_ms,
            as_of=message.as_of,
        )

    def visible_for_render(self) -> bool:
        """True when the screen is on top (not under a modal) and the app is not paused."""
        return self.is_active and not self.ecotop.paused

    def apply_pending(self) -> None:
        """Show data that arrived while hidden or paused (called on resume and on unpause)."""
        if self._has_pending and self.visible_for_render():
            data, self._pending, self._has_pending = self._pending, None, False
            with self.app.batch_update():
                self.apply(data)

    # The contract's own handlers are decorated (not `on_*` methods) so that subclasses may define
    # on_screen_resume / on_unmount freely; Textual calls both. The no-op `on_*` below only make
    # `super().on_screen_resume()` in a subclass harmless.

    @on(events.ScreenResume)
    def _ecotop_resumed(self) -> None:
        self.apply_pending()
        self.ecotop.screen_became_current(self)

    @on(events.Unmount)
    def _ecotop_unmounted(self) -> None:
        self.ecotop.screen_gone(self)

    def on_screen_resume(self) -> None:
        """Subclasses may override; the refresh contract does not depend on it."""

    def on_unmount(self) -> None:
        """Subclasses may override; the refresh contract does not depend on it."""

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # the bottom screen has nowhere to go back to: no "esc Back" in its footer
        return not (action == "back" and not self.can_go_back)

    def action_back(self) -> None:
        if self.can_go_back and len(self.app.screen_stack) > 1:
            self.app.pop_screen()
