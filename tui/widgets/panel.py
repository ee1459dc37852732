"""PillarPanel: one pillar on the overview: its headline measures as KpiTiles and a trend chart.

The panel fits its height: it shows as many tiles as there are rows, and a chart of the lead measure
when rows are left over; the bottom border carries a one-line sparkline when there is no room.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.events import Resize

from ecotop.tui.widgets.kpi import KpiTile, TileState
from ecotop.tui.widgets.spark import Spark, spark_text

#: Rows a chart needs to be worth drawing, and the most it takes.
CHART_MIN, CHART_MAX = 2, 8


class PillarPanel(Vertical):
    """A bordered panel titled with the pillar's number and name."""

    DEFAULT_CSS = """
    PillarPanel {
        border: round $panel-lighten-2;
        border-title-color: $text;
        border-title-style: bold;
        border-subtitle-color: $accent;
        padding: 0 1;
        height: 1fr;
    }
    PillarPanel.-warning { border: round $warning; }
    PillarPanel.-critical { border: heavy $error; }
    PillarPanel > Spark.panel-chart { height: 1fr; margin-top: 1; }
    PillarPanel.-loading > KpiTile { text-style: dim; }
    """

    def __init__(
        self,
        pillar: str,
        title: str,
        number: int,
        measures: Sequence[Any],
        *,
        chart: bool = True,
        **kw: Any,
    ):
        super().__init__(**kw)
        self.chart = chart  # False: as tall as its tiles, no chart (the pillar view draws its own)
        self.can_focus = chart  # the overview's panels take focus (Tab, arrows; enter opens)
        self.pillar = pillar
        self.number = number
        self.measures = list(measures)  # MeasureDef, in display order
        self.title_text = title
        self.border_title = f"{number} {title}"
        self._lead_trend: tuple[float | None, ...] = ()
        self._fit_rows = -1

    def compose(self) -> ComposeResult:
        for m in self.measures:
            yield KpiTile(m.id, m.label, classes="kpi-tile", id=f"kpi-{m.id.replace('.', '-')}")
        if self.chart:
            yield Spark(classes="panel-chart")

    def mark_loading(self, loading: str | None) -> None:
        """Mark the numbers as older than what the status bar says (`loading`: the range they are
        being fetched for, e.g. after `t`), or clear the mark (None)."""
        base = f"{self.number} {self.title_text}"
        self.set_class(loading is not None, "-loading")
        self.border_title = base if loading is None else f"{base} ⟳ {loading}…"

    @property
    def tiles(self) -> list[KpiTile]:
        return list(self.query(KpiTile))

    def tile(self, measure_id: str) -> KpiTile:
        return self.query_one(f"#kpi-{measure_id.replace('.', '-')}", KpiTile)

    def show(
        self, states: Mapping[str, TileState], lead_trend: Sequence[float | None] = ()
    ) -> None:
        """Update tiles (each one only if its state changed) and the lead measure's trend."""
        worst = None
        for t in self.tiles:
            st = states.get(t.measure_id)
            if st is None:
                continue
            t.show(st)
            if st.alert == "CRITICAL" or (st.alert == "WARNING" and worst is None):
                worst = st.alert
        self.set_class(worst == "WARNING", "-warning")
        self.set_class(worst == "CRITICAL", "-critical")
        lead = tuple(lead_trend)
        if self.chart and lead != self._lead_trend:
            self._lead_trend = lead
            spark = self.query_one(Spark)
            spark.from_zero = not self.measures or self.measures[0].kind not in ("rate", "ratio")
            spark.set_values(lead)
            self._update_subtitle()

    def _update_subtitle(self) -> None:
        chart = self.query_one(Spark)
        if chart.display and self._lead_trend and self.measures:
            self.border_subtitle = f"chart: {self.measures[0].label}"
        elif not chart.display and self._lead_trend:
            # the sparkline says what it shows (#11): the lead measure's label before it
            lead = self.measures[0] if self.measures else None
            label = f"{lead.label} " if lead is not None else ""
            w = max(0, min(24, self.size.width - len(self.border_title or "") - len(label) - 6))
            zero = getattr(lead, "kind", "count") not in ("rate", "ratio")
            line = spark_text(self._lead_trend, w, from_zero=zero) if w >= 6 else ""
            self.border_subtitle = f"{label}{line}" if line else ""
        else:
            self.border_subtitle = ""

    def on_resize(self, event: Resize) -> None:
        if self.chart:
            self._fit()

    def _fit(self) -> None:
        rows = self.content_region.height if self.is_mounted else 0
        if rows == self._fit_rows:
            return
        self._fit_rows = rows
        tiles = self.tiles
        n = len(tiles)
        visible = min(n, rows)
        for i, t in enumerate(tiles):
            t.display = i < visible
        spare = rows - visible - 1  # one row of margin above a chart
        chart = self.query_one(Spark)
        chart.display = visible == n and spare >= CHART_MIN
        if chart.display:
            chart.styles.height = min(spare, CHART_MAX)
        self._update_subtitle()
