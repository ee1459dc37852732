"""A pillar view (keys 1-7): the pillar's measures over the range, charts, breakdowns, top merchants."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.widgets import Footer

from tui.screens.base import EcotopScreen, RefreshContext
from tui.widgets.kpi import KpiTile, tile_state
from tui.widgets.panel import PillarPanel
from tui.widgets.status import StatusBar


class PillarScreen(EcotopScreen):
    """One pillar in detail."""

    def __init__(self, pillar: str) -> None:
        super().__init__()
        self.pillar = pillar

    def compose(self) -> ComposeResult:
        from queries import PILLARS
        from queries.measures import for_pillar

        yield StatusBar(id="status")
        n = list(PILLARS).index(self.pillar) + 1
        yield PillarPanel(self.pillar, PILLARS[self.pillar], n, for_pillar(self.pillar))
        yield Footer()

    def fetch(self, cur: Any, ctx: RefreshContext) -> Any:
        from queries import kpis

        return kpis(cur, ctx.range_key, live=ctx.live, now=ctx.now)

    def apply(self, data: Any) -> None:
        measures = data.pillars.get(self.pillar, {})
        panel = self.query_one(PillarPanel)
        states = {}
        for t in panel.query(KpiTile):
            key = t.measure_id.split(".", 1)[1]
            if key in measures:
                states[t.measure_id] = tile_state(
                    measures[key], self.ecotop.firing_for(t.measure_id)
                )
        panel.show(states)
