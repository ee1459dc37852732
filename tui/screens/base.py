"""The screen contract every ecotop screen follows (overview, pillars, merchants, console, ...).

Refresh: the app runs ONE refresh cycle, never a timer per screen or panel.

1. When the cycle fires (every `app.refresh_s` seconds after the previous one *finished*, or at once on
   `r`, on a range change, or when a screen becomes current), the app calls
   `start_refresh(ctx)` on the top-most `EcotopScreen` of the stack. `ctx` is a `RefreshContext`:
   range key, live flag, `now` from the app's injected clock, the alert rules, and whether the
   result may be rendered.
2. `start_refresh` runs `fetch(cur, ctx)` in a thread worker
   (`@work(thread=True, exclusive=True, exit_on_error=False, group="refresh")`) with its own
   `self.app.db.cursor()`, closed afterwards. `fetch` runs the queries and returns plain data; it
   never touches widgets. An exception is caught and reported, never raised into the app.
3. The worker posts `EcotopScreen.Fetched(data, error, elapsed_ms)` to the screen. Its handler, on
   the UI thread, calls `apply(data)` only when the screen is visible (`is_current`) and the app is not
   paused; otherwise it keeps the data and applies it when the screen is resumed. Widgets update
   only when their value changed (fewer bytes to the terminal).
4. The handler then calls `self.app.refresh_finished(elapsed_ms, error)`, and the app schedules the
   next cycle. A screen removed while its worker runs tells the app in `on_unmount`, so the cycle
   never stalls.

A screen that has nothing to refresh (help, a modal) need not subclass `EcotopScreen`; while it is on
top, the screen under it may still fetch but does not render.

Screens subclass `EcotopScreen` and override `fetch(cur, ctx)` and `apply(data)`. Override
`show_in_status` to False to hide the status bar's refresh figures. Any screen can post
`OpenMerchant(merchant_id)` (e.g. `enter` on a merchant row); the app pushes
`tui.screens.merchants.MerchantScreen(merchant_id)`. `esc` pops back (bound here).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from textual import work
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen

if TYPE_CHECKING:
    from tui.app import EcotopApp


class OpenMerchant(Message):
    """Ask the app to open one merchant's drill-down (`MerchantScreen(merchant_id)`)."""

    def __init__(self, merchant_id: int) -> None:
        super().__init__()
        self.merchant_id = int(merchant_id)


@dataclass(frozen=True)
class RefreshContext:
    """What a screen's fetch needs to know about this cycle (built by the app, read in a thread)."""

    range_key: str
    live: bool
    now: datetime
    render: bool = True
    rules: tuple[Any, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


def evaluate_alerts(cur: Any, ctx: RefreshContext) -> list[Any]:
    """Evaluate the alert rules on `cur` (queries.alerts, written alongside the `check` command)."""
    from queries import alerts as qalerts

    try:
        return list(qalerts.evaluate(cur, list(ctx.rules), live=ctx.live, now=ctx.now))
    except TypeError:
        return list(qalerts.evaluate(cur, list(ctx.rules)))


class EcotopScreen(Screen):
    """A screen refreshed by the app's single cycle: override `fetch` (thread) and `apply` (UI)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", show=True),
    ]

    #: Whether `escape` pops this screen (the overview is the bottom of the stack).
    can_go_back: ClassVar[bool] = True

    class Fetched(Message):
        """A refresh worker's result, posted to the screen that started it."""

        def __init__(
            self,
            data: Any,
            error: BaseException | None,
            elapsed_ms: float,
            alerts: list[Any] | None = None,
        ) -> None:
            super().__init__()
            self.data = data
            self.error = error
            self.elapsed_ms = elapsed_ms
            self.alerts = alerts

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pending: Any = None  # data fetched while hidden or paused, applied on resume
        self._has_pending = False
        self.last_data: Any = None

    @property
    def ecotop(self) -> EcotopApp:
        return self.app  # type: ignore[return-value]

    # -- the contract ---------------------------------------------------------------------------

    def fetch(self, cur: Any, ctx: RefreshContext) -> Any:
        """Run the queries of this screen on `cur` (in a worker thread) and return plain data."""
        return None

    def apply(self, data: Any) -> None:
        """Show `data` (on the UI thread); update only widgets whose value changed."""

    def start_refresh(self, ctx: RefreshContext) -> None:
        """Called by the app's cycle: fetch in a thread worker, then post `Fetched`."""
        self._refresh_worker(ctx)

    @work(thread=True, exclusive=True, exit_on_error=False, group="refresh")
    def _refresh_worker(self, ctx: RefreshContext) -> None:
        t0 = time.perf_counter()
        data: Any = None
        error: BaseException | None = None
        alerts: list[Any] | None = None
        cur = None
        try:
            cur = self.ecotop.db.cursor()
            data = self.fetch(cur, ctx)
            if ctx.rules:
                alerts = evaluate_alerts(cur, ctx)
        except Exception as exc:  # reported in the status bar, never crashes the app
            error = exc
        finally:
            if cur is not None:
                with contextlib.suppress(Exception):
                    cur.close()
        self.post_message(self.Fetched(data, error, (time.perf_counter() - t0) * 1000, alerts))

    def on_ecotop_screen_fetched(self, message: Fetched) -> None:
        message.stop()
        if message.error is None:
            self.last_data = message.data
            if self.visible_for_render():
                self._has_pending = False
                self._pending = None
                with self.app.batch_update():
                    self.apply(message.data)
            else:
                self._pending = message.data
                self._has_pending = True
        self.ecotop.refresh_finished(self, message.elapsed_ms, message.error, message.alerts)

    def visible_for_render(self) -> bool:
        """True when rendering would be seen: the current screen and the app not paused."""
        return self.is_current and not self.ecotop.paused

    def apply_pending(self) -> None:
        """Show data that arrived while hidden or paused (called on resume and on unpause)."""
        if self._has_pending and self.visible_for_render():
            data, self._pending, self._has_pending = self._pending, None, False
            with self.app.batch_update():
                self.apply(data)

    def on_screen_resume(self) -> None:
        self.apply_pending()
        self.ecotop.screen_became_current(self)

    def on_unmount(self) -> None:
        self.ecotop.screen_gone(self)

    def action_back(self) -> None:
        if self.can_go_back and len(self.app.screen_stack) > 1:
            self.app.pop_screen()
