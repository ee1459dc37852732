"""KpiTile: one headline measure on one line: marker, label, value, change and (if wide) a trend."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget

from ecotop.tui.widgets.format import change_direction, format_change, format_value
from ecotop.tui.widgets.spark import spark_text

ALERT_MARK = {"CRITICAL": "✖", "WARNING": "⚠"}


@dataclass(frozen=True)
class TileState:
    """Everything a tile shows; the tile re-renders only when this changes."""

    value: str = "…"
    change: str = ""
    direction: int = 0  # +1 up, -1 down, 0 flat/unknown
    good: str | None = "up"
    alert: str | None = None  # "WARNING", "CRITICAL" or None
    trend: tuple[float | None, ...] = ()
    trend_from_zero: bool = True  # counts and money; rates and ratios on their own range


def tile_state(measure: Any, alert: str | None = None, trend: Sequence[Any] = ()) -> TileState:
    """The TileState of a queries.Measure (value, previous, approx, definition.kind/good)."""
    d = measure.definition
    change = measure.change
    return TileState(
        value=format_value(d.kind, measure.value, approx=measure.approx),
        change=format_change(d.kind, change),
        direction=change_direction(change),
        good=d.good,
        alert=alert,
        trend=tuple(None if v is None else float(v) for v in trend),
        trend_from_zero=d.kind not in ("rate", "ratio"),
    )


class KpiTile(Widget):
    """One measure: `⚠ label ....... value  ▲ 3.4%  ▁▂▃▅` (the trend only when wide enough).

    Health is shown with a symbol and a style, never colour alone: a firing alert adds ⚠ or ✖ and
    the `-warning` / `-critical` class.
    """

    DEFAULT_CSS = """
    KpiTile { height: 1; width: 1fr; }
    KpiTile.-warning { background: $warning 25%; }
    KpiTile.-critical { background: $error 30%; }
    """

    #: Styles of the parts (theme variables, resolved when drawn). Plain styles rather than
    #: component classes: 40-odd tiles with six component classes each cost ~250 style nodes at
    #: start-up.
    STYLES: ClassVar[dict[str, str]] = {
        "label": "$foreground-muted",
        "value": "bold",
        "good": "$text-success",
        "bad": "$text-error",
        "flat": "$foreground-muted",
        "trend": "$accent",
    }
    VALUE_ALERT: ClassVar[dict[str, str]] = {"WARNING": " underline", "CRITICAL": " reverse"}

    #: The label column's widest; a trend is drawn in what is left when at least TREND_MIN wide.
    LABEL_MAX: ClassVar[int] = 16
    TREND_MIN: ClassVar[int] = 8
    TREND_MAX: ClassVar[int] = 60

    state: reactive[TileState] = reactive(TileState())

    def __init__(self, measure_id: str, label: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.measure_id = measure_id
        self.label = label

    def show(self, state: TileState) -> None:
        """Update what the tile shows (a no-op when nothing changed)."""
        if state != self.state:
            self.state = state

    def watch_state(self, old: TileState, new: TileState) -> None:
        if old.alert != new.alert:
            self.set_class(new.alert == "WARNING", "-warning")
            self.set_class(new.alert == "CRITICAL", "-critical")

    @property
    def value_text(self) -> str:
        return self.state.value

    def render(self) -> Content:
        s = self.state
        width = self.size.width
        mark = ALERT_MARK.get(s.alert or "", " ")
        value_w = max(9, len(s.value))
        change_w = max(8, len(s.change))
        fixed = 2 + value_w + 1 + change_w  # marker, value, gap, change
        label_w = min(self.LABEL_MAX, width - fixed)
        if label_w < 6:  # very narrow: drop the change first
            change_w = 0
            label_w = width - 2 - value_w
        trend_w = 0
        if s.trend and width - fixed - label_w - 2 >= self.TREND_MIN:
            trend_w = min(self.TREND_MAX, width - fixed - label_w - 2)
        label = self.label
        if len(label) > label_w:
            label = label[: max(label_w - 1, 0)] + "…"
        st = self.STYLES
        if s.direction == 0:
            change_style = st["flat"]
        else:
            healthy = (s.direction > 0) == (s.good != "down")
            change_style = st["good"] if healthy or s.good is None else st["bad"]
        parts: list[str | tuple[str, str]] = [
            f"{mark} ",
            (label.ljust(max(label_w, 0)), st["label"]),
            (s.value.rjust(value_w), st["value"] + self.VALUE_ALERT.get(s.alert or "", "")),
        ]
        if change_w:
            parts += [" ", (s.change.rjust(change_w), change_style)]
        if trend_w:
            trend = spark_text(s.trend, trend_w, from_zero=s.trend_from_zero)
            parts += ["  ", (trend, st["trend"])]
        return Content.assemble(*parts)
