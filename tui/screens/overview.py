"""The overview: one PillarPanel per pillar with its headline measures, for one time range."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid
from textual.message import Message
from textual.widgets import Static

from ecotop.queries.gateway import Cursor
from ecotop.tui.pins import PinnedResult, fetch_pinned, load_panels, unpin_panel
from ecotop.tui.screens.base import EcotopScreen, RefreshContext
from ecotop.tui.status import Status, alert_state
from ecotop.tui.widgets.footer import KeyHints
from ecotop.tui.widgets.kpi import TileState, tile_state
from ecotop.tui.widgets.panel import PillarPanel
from ecotop.tui.widgets.pinned import PinnedPanel, PinnedStrip
from ecotop.tui.widgets.status import StatusBar

#: Points of each trend line (the sparklines resample to their width).
TREND_POINTS = 48
#: Ranges whose sparklines take one point per hour or per day: a stride of 30 or 48 points over 7d
#: aliases the daily cycle (a beat pattern), one point a day does not (#11).
TREND_POINTS_BY_RANGE = {"24h": 24, "7d": 7, "30d": 30}


def trend_points(range_key: str) -> int:
    """How many points the overview's sparklines take for `range_key`."""
    return TREND_POINTS_BY_RANGE.get(range_key, TREND_POINTS)


@dataclass
class OverviewData:
    kpis: Any  # queries.KpiSet
    trends: dict[str, list[float | None]] | None
    pinned: list[PinnedResult] | None = None  # queries pinned from the SQL console (tui.pins)


@dataclass
class Unpinned(Message):
    """The unpin worker's result: whether `name` left the pins file, or why not."""

    name: str
    removed: bool
    error: str | None


class OverviewScreen(EcotopScreen):
    """Seven pillar panels and an alerts summary, refreshed by the app's cycle."""

    can_go_back: ClassVar[bool] = False
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (180, "-wide")]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left", "move_focus(-1, 0)", "Panel left", show=False),
        Binding("right", "move_focus(1, 0)", "Panel right", show=False),
        Binding("up", "move_focus(0, -1)", "Panel up", show=False),
        Binding("down", "move_focus(0, 1)", "Panel down", show=False),
        Binding("enter", "open_focused", "Open pillar", show=False, key_display="⏎"),
    ]

    def action_move_focus(self, dx: int, dy: int) -> None:
        """Move the focus to the nearest pillar panel in that direction (btop's boxes)."""
        panels = [p for p in self.query(PillarPanel) if p.display]
        here = self.focused
        if not isinstance(here, PillarPanel):
            if panels:
                panels[0].focus()
            return
        hx, hy = here.region.x, here.region.y
        ahead = [
            p
            for p in panels
            if p is not here
            and ((dx and (p.region.x - hx) * dx > 0) or (dy and (p.region.y - hy) * dy > 0))
        ]
        if ahead:
            best = min(
                ahead,
                key=lambda p: (
                    abs(p.region.y - hy) if dx else abs(p.region.x - hx),
                    abs(p.region.x - hx) + abs(p.region.y - hy),
                ),
            )
            best.focus()

    def show_status(self, status: Status) -> None:
        super().show_status(status)
        self._mark_loading(status.range_key, status.baseline)

    def _mark_loading(self, range_key: str, baseline: str) -> None:
        """A loading marker on the panels while their numbers are for another range or baseline than
        the status bar says (after `t` or `b`, until the new numbers arrive)."""
        data = self.last_data
        if data is None:
            return
        win = data.kpis.window
        stale = (win.range, win.baseline) != (range_key, baseline or win.baseline)
        for panel in self.query(PillarPanel):
            panel.mark_loading(range_key if stale else None)

    async def action_open_focused(self) -> None:
        """enter on a focused pillar panel opens that pillar."""
        if isinstance(self.focused, PillarPanel):
            await self.app.run_action(f"pillar({self.focused.number})")

    def compose(self) -> ComposeResult:
        from ecotop.queries import PILLARS
        from ecotop.queries.measures import for_pillar

        yield StatusBar(id="status")
        with Grid(id="pillars"):
            for n, (key, title) in enumerate(PILLARS.items(), start=1):
                ms = [m for m in for_pillar(key) if m.headline]
                yield PillarPanel(key, title, n, ms, id=f"pillar-{key}", classes="pillar-panel")
            summary = Static("", id="alerts-summary", classes="alerts-summary")
            summary.border_title = "Alerts"
            yield summary
        yield PinnedStrip(id="pinned")
        yield KeyHints()

    def on_mount(self) -> None:
        self.query_one(PinnedStrip).zone = self.ecotop.display_zone

    def cache_key(self, ctx: RefreshContext) -> Any:
        return (ctx.range_key, ctx.baseline, self.ecotop.pins_version)

    def fetch(self, cur: Cursor, ctx: RefreshContext) -> OverviewData:
        from ecotop.queries import kpis, trends

        ks = kpis(cur, ctx.range_key, live=ctx.live, now=ctx.now, baseline=ctx.baseline)
        last = self.last_data
        if last is None or last.kpis.window.range != ctx.range_key:
            # numbers first (the first screen, a new range), then trends and pins in this cycle
            self.publish(OverviewData(ks, None, None))
        lines: dict[str, list[float | None]] | None
        try:
            lines = trends(cur, ks.window, trend_points(ctx.range_key))
        except Exception as exc:  # trends are extra: a failure leaves the numbers on screen
            self.log.warning(f"trends failed: {exc!r}")
            lines = None
        pins = fetch_pinned(self.gateway, load_panels(self.ecotop.config_path))
        return OverviewData(ks, lines, pins)

    def received(self, data: OverviewData) -> None:
        if data is not None and not self.ecotop.live:
            self.ecotop.data_as_of = data.kpis.as_of

    def apply(self, data: OverviewData) -> None:
        app = self.ecotop
        trends = data.trends or {}
        for panel in self.query(PillarPanel):
            states: dict[str, TileState] = {}
            measures = data.kpis.pillars.get(panel.pillar, {})
            for m in panel.measures:
                measure = measures.get(m.key)
                if measure is None:
                    continue
                states[m.id] = tile_state(measure, app.firing_for(m.id), trends.get(m.id, ()))
            lead = trends.get(panel.measures[0].id, ()) if panel.measures else ()
            panel.show(states, lead)
        if data.pinned is not None:
            self.query_one(PinnedStrip).show(data.pinned)
        self._show_alert_summary()
        self._mark_loading(self.ecotop.range_key, self.ecotop.baseline)

    def _show_alert_summary(self) -> None:
        app = self.ecotop
        firing = [a for a in app.alerts if alert_state(a) in ("WARNING", "CRITICAL")]
        box = self.query_one("#alerts-summary", Static)
        if not app.rules:
            text = "no alert rules (see --config)"
        elif not app.alerts:
            text = f"{len(app.rules)} rules, judged after the first refresh"
        elif not firing:
            from ecotop.tui.screens.alerts import alert_summary

            text = f"{alert_summary(list(app.alerts))}  (a: list)"
        else:
            lines = []
            for a in firing:
                sym = "✖" if alert_state(a) == "CRITICAL" else "⚠"
                lines.append(f"{sym} {a.message or a.measure}")
            text = "\n".join(lines)
        if str(box.content) != text:
            box.update(text)
        box.set_class(any(alert_state(a) == "CRITICAL" for a in firing), "-critical")
        box.set_class(bool(firing) and not box.has_class("-critical"), "-warning")

    # -- removing a pinned panel ---------------------------------------------------------------

    def on_pinned_panel_remove_requested(self, message: PinnedPanel.RemoveRequested) -> None:
        from ecotop.tui.widgets.sql_dialogs import ConfirmScreen

        message.stop()
        name = message.panel.panel_name

        def answer(yes: bool | None) -> None:
            if yes:
                self._unpin(name)

        self.app.push_screen(ConfirmScreen(f"Remove the pinned panel {name!r}?"), answer)

    @work(thread=True, exclusive=True, exit_on_error=False, group="unpin")
    def _unpin(self, name: str) -> None:
        try:
            removed = unpin_panel(self.ecotop.config_path, name)
        except Exception as exc:  # the file could not be written: say so, keep the panel
            self.post_message(Unpinned(name, False, str(exc)))
            return
        self.post_message(Unpinned(name, removed, None))

    async def on_unpinned(self, message: Unpinned) -> None:
        name = message.name
        if message.error is not None:
            self.notify(f"cannot remove {name!r}: {message.error}", severity="error", timeout=5)
            return
        if not message.removed:
            self.notify(
                f"{name!r} is pinned in a system config file; remove it there",
                severity="warning",
                timeout=5,
            )
            return
        strip = self.query_one(PinnedStrip)
        gone = [p for p in strip.query(PinnedPanel) if p.panel_name == name]
        if any(p.has_focus for p in gone):
            self.set_focus(None)  # focus must not stay on a widget that is going away
        for panel in gone:
            await panel.remove()
        if not strip.query(PinnedPanel):
            strip.remove_class("-shown")
        self.ecotop.pins_version += 1
        self.notify(f"removed panel {name!r}", timeout=2)

    def on_screen_resume(self) -> None:
        self.show_status(self.ecotop.status())
