"""MerchantFunnel: one merchant's closed loop as bars, with the count and conversion of each step.

Pure rendering: it receives the funnel rows of `queries.merchant.merchant_detail` (step, label,
customers, conversion) and draws one line per step: the label, a bar proportional to the step's
customers (against the largest step), the count and the conversion from the step before. Bars are
block characters, so it reads the same without colour.
"""

from __future__ import annotations

from typing import Any

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from ecotop.tui.widgets.format import DASH, format_count, format_rate

_EIGHTHS = " ▏▎▍▌▋▊▉"


def bar(value: float, top: float, width: int) -> str:
    """A bar of `width` cells filled to value/top, in eighths of a cell."""
    if width <= 0 or top <= 0 or value <= 0:
        return ""
    units = round(min(1.0, value / top) * width * 8)
    full, part = divmod(units, 8)
    text = "█" * full + (_EIGHTHS[part] if part else "")
    return text or "▏"


class MerchantFunnel(Widget):
    """The funnel of one merchant: `steps` is a list of dicts with label, customers, conversion."""

    DEFAULT_CSS = """
    MerchantFunnel {
        height: auto;
        min-height: 11;
        border: round $panel-lighten-2;
        border-title-color: $text;
        padding: 0 1;
    }
    """

    steps: reactive[tuple[tuple[str, int, float | None], ...] | None] = reactive(None, layout=True)

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id, classes=classes)
        self.border_title = "Closed loop"
        self.border_subtitle = "customers · conversion from the step above"

    def show(self, funnel: list[dict[str, Any]]) -> None:
        """Set the steps (updates the screen only when something changed)."""
        steps = tuple((s["label"], int(s["customers"]), s.get("conversion")) for s in funnel)
        if steps != self.steps:
            self.steps = steps

    def render(self) -> RenderableType:
        if self.steps is None:
            return Text("…", style="dim")
        label_w = max((len(label) for label, _, _ in self.steps), default=10)
        width = self.content_region.width or self.size.width or 60
        count_w, conv_w = 8, 8
        bar_w = max(4, width - label_w - count_w - conv_w - 3)
        top = max((n for _, n, _ in self.steps), default=0)
        table = Table.grid(padding=(0, 1), expand=False)
        table.add_column(no_wrap=True, width=label_w)
        table.add_column(no_wrap=True, width=bar_w)
        table.add_column(justify="right", no_wrap=True, width=count_w)
        table.add_column(justify="right", no_wrap=True, width=conv_w)
        for i, (label, n, conv) in enumerate(self.steps):
            conv_text = "" if i == 0 else (DASH if conv is None else format_rate(conv))
            table.add_row(
                Text(label),
                Text(bar(n, top, bar_w), style="cyan"),
                Text(format_count(n)),
                Text(conv_text, style="dim" if conv is None else ""),
            )
        return table
