"""The overview: one PillarPanel per pillar with its headline measures, for one time range."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.containers import Grid
from textual.widgets import Footer, Static

from ecotop.tui.screens.base import EcotopScreen, RefreshContext
from ecotop.tui.widgets.kpi import TileState, tile_state
from ecotop.tui.widgets.panel import PillarPanel
from ecotop.tui.widgets.pinned import PinnedStrip, fetch_pinned
from ecotop.tui.widgets.status import StatusBar

#: Points of each trend line (the sparklines resample to their width).
TREND_POINTS = 48


@dataclass
class OverviewData:
    kpis: Any  # queries.KpiSet
    trends: dict[str, list[float | None]] | None
    pinned: list[Any] | None = None  # queries pinned from the SQL console (tui.widgets.pinned)


def fetch_trends(cur: Any, window: Any, points: int) -> dict[str, list[float | None]] | None:
    """ecotop.queries.trends(cur, window, points) -> {measure_id: [values oldest first]} when available."""
    from ecotop import queries

    fn = getattr(queries, "trends", None)
    if fn is None:
        return None
    raw = fn(cur, window, points)
    return normalize_trends(raw)


def normalize_trends(raw: Any) -> dict[str, list[float | None]]:
    """Accept {measure_id: [v, ...]} or {measure_id: [(ts, v), ...]} or an object with .series."""
    series = getattr(raw, "series", raw)
    out: dict[str, list[float | None]] = {}
    if not isinstance(series, dict):
        return out
    for key, vals in series.items():
        row = []
        for v in vals:
            if isinstance(v, tuple | list):
                v = v[-1]
            row.append(None if v is None else float(v))
        out[str(key)] = row
    return out


class OverviewScreen(EcotopScreen):
    """Seven pillar panels and an alerts summary, refreshed by the app's cycle."""

    can_go_back: ClassVar[bool] = False
    HORIZONTAL_BREAKPOINTS: ClassVar = [(0, "-narrow"), (180, "-wide")]

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
        yield Footer()

    def cache_key(self, ctx: RefreshContext) -> Any:
        from ecotop.tui.widgets.pinned import pinned_names

        return (ctx.range_key, tuple(sorted(pinned_names(self.ecotop))))

    def fetch(self, cur: Any, ctx: RefreshContext) -> OverviewData:
        from ecotop.queries import kpis

        ks = kpis(cur, ctx.range_key, live=ctx.live, now=ctx.now)
        last = self.last_data
        if last is None or last.kpis.window.range != ctx.range_key:
            # numbers first (the first screen, a new range), then trends and pins in this cycle
            self.publish(OverviewData(ks, None, None))
        try:
            trends = fetch_trends(cur, ks.window, TREND_POINTS)
        except Exception as exc:  # trends are extra: a failure leaves the numbers on screen
            self.log.warning(f"trends failed: {exc!r}")
            trends = None
        return OverviewData(ks, trends, fetch_pinned(self.ecotop))

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

    def _show_alert_summary(self) -> None:
        from ecotop.tui.app import alert_state

        app = self.ecotop
        firing = [a for a in app.alerts if alert_state(a) in ("WARNING", "CRITICAL")]
        box = self.query_one("#alerts-summary", Static)
        if not app.rules:
            text = "no alert rules (see --config)"
        elif not app.alerts:
            text = f"{len(app.rules)} rules, judged after the first refresh"
        elif not firing:
            text = f"✔ {len(app.alerts)} checks OK  (a: list)"
        else:
            lines = []
            for a in firing:
                sym = "✖" if alert_state(a) == "CRITICAL" else "⚠"
                lines.append(f"{sym} {getattr(a, 'message', '') or getattr(a, 'measure', '')}")
            text = "\n".join(lines)
        if str(box.content) != text:
            box.update(text)
        box.set_class(any(alert_state(a) == "CRITICAL" for a in firing), "-critical")
        box.set_class(bool(firing) and not box.has_class("-critical"), "-warning")

    def on_screen_resume(self) -> None:
        for bar in self.query(StatusBar):
            bar.update_from_app()
