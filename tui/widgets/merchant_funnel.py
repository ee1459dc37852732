"""MerchantFunnel: one merchant's closed loop as bars, with the customers and conversion of each step.

Pure rendering: it receives the funnel rows of `queries.merchant.merchant_detail` (step, label,
customers, base, converted, conversion) and draws one line per step in loop order: what the
customers did, in words ("placed an order", never "Order" beside the Orders measure), a bar of the
customers who did it in the window (against the largest step), their number, and how many of the
step above went on (DESIGN: the share of step k-1's customers who also did step k at or after it,
`40.00% of 30`). A step can have more customers than the one above (people join the loop at
any step), which the "of N" makes plain. Bars are block characters, so it reads the same without
colour.
"""

from __future__ import annotations

from typing import Any

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from ecotop.tui.widgets.format import format_count, funnel_words, went_on

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
        min-height: 12;
        border: round $panel-lighten-2;
        border-title-color: $text;
        padding: 0 1;
    }
    """

    steps: reactive[tuple[tuple[str, int, str], ...] | None] = reactive(None, layout=True)

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id, classes=classes)
        self.border_title = "Closed loop · customers who, in the range"
        self.border_subtitle = "went on: share of the step above who did it after"

    def show(self, funnel: list[dict[str, Any]]) -> None:
        """Set the steps (updates the screen only when something changed)."""
        steps = tuple(
            (
                funnel_words(str(s.get("step", "")), str(s.get("label", ""))),
                int(s["customers"]),
                "" if i == 0 else went_on(s.get("base"), s.get("conversion")),
            )
            for i, s in enumerate(funnel)
        )
        if steps != self.steps:
            self.steps = steps

    def render(self) -> RenderableType:
        if self.steps is None:
            return Text("…", style="dim")
        label_w = max((len(label) for label, _, _ in self.steps), default=10)
        width = self.content_region.width or self.size.width or 60
        count_w = max(9, *(len(format_count(n)) for _, n, _ in self.steps))
        conv_w = max(8, *(len(c) for _, _, c in self.steps))
        bar_w = max(4, width - label_w - count_w - conv_w - 3)
        top = max((n for _, n, _ in self.steps), default=0)
        table = Table.grid(padding=(0, 1), expand=False)
        table.add_column(no_wrap=True, width=label_w)
        table.add_column(no_wrap=True, width=bar_w)
        table.add_column(justify="right", no_wrap=True, width=count_w)
        table.add_column(justify="right", no_wrap=True, width=conv_w)
        table.add_row(
            Text(""), Text(""), Text("customers", style="dim"), Text("went on", style="dim")
        )
        for label, n, conv in self.steps:
            table.add_row(
                Text(label),
                Text(bar(n, top, bar_w), style="cyan"),
                Text(format_count(n)),
                Text(conv, style="dim" if conv in ("", "—") else ""),
            )
        return table
