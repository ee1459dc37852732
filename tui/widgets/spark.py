"""Sparklines in one style: Unicode eighth blocks, no per-cell colour gradient.

Textual's Sparkline colours every cell differently, which costs many bytes per frame on a
truecolor terminal (83 KiB/s in the prototype); one style per line keeps frames small.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

BLOCKS = " ▁▂▃▄▅▆▇█"


def resample(values: Sequence[float | None], width: int) -> list[float | None]:
    """Fit `values` to `width` columns: average groups when longer, widen each value when shorter
    (every column shows the value its position falls in)."""
    vals = list(values)
    if width <= 0 or not vals:
        return []
    if len(vals) < width:
        return [vals[c * len(vals) // width] for c in range(width)]
    if len(vals) == width:
        return vals
    out: list[float | None] = []
    n = len(vals)
    for i in range(width):
        a, b = i * n // width, (i + 1) * n // width
        group = [v for v in vals[a:b] if v is not None]
        out.append(sum(group) / len(group) if group else None)
    return out


def spark_rows(
    values: Sequence[float | None], width: int, height: int = 1, *, from_zero: bool = True
) -> list[str]:
    """Rows (top first) of a block sparkline of `values` fitted to width x height. Counts and money
    are drawn from zero (`from_zero`); a rate on its own range, so a success rate between 99.3% and
    99.6% moves instead of being a solid bar."""
    vals = resample(values, width)
    present = [float(v) for v in vals if v is not None]
    if not present or width <= 0 or height <= 0:
        return [" " * max(width, 0)] * max(height, 0)
    lo, hi = min(present), max(present)
    if from_zero:
        lo = min(lo, 0.0) if lo >= 0 else lo
    elif hi > lo:
        lo -= (hi - lo) / 8  # the lowest point keeps a sliver: a gap would read as no data
    span = hi - lo
    levels = height * 8
    cols: list[int | None] = []
    for v in vals:
        if v is None:
            cols.append(None)
        elif span <= 0:
            cols.append(levels // 2 if hi != 0 else 0)
        else:
            lvl = round((float(v) - lo) / span * levels)
            cols.append(max(1 if float(v) > lo else 0, min(levels, lvl)))
    rows = []
    for r in range(height):
        base = (height - 1 - r) * 8
        line = []
        for c in cols:
            if c is None:
                line.append(" ")
            else:
                line.append(BLOCKS[max(0, min(8, c - base))])
        rows.append("".join(line).rjust(width))
    return rows


def spark_text(values: Sequence[float | None], width: int, *, from_zero: bool = True) -> str:
    """A one-line sparkline (see `spark_rows`)."""
    return spark_rows(values, width, 1, from_zero=from_zero)[0] if width > 0 else ""


class Spark(Widget):
    """A block sparkline of the newest values, as wide and tall as the widget."""

    DEFAULT_CSS = """
    Spark { height: 1; width: 1fr; color: $accent; }
    """

    values: reactive[tuple[float | None, ...]] = reactive(())
    from_zero: bool = True  # False for rates: drawn on their own range

    def set_values(self, values: Sequence[float | None]) -> None:
        new = tuple(_num(v) for v in values)
        if new != self.values:
            self.values = new

    def render(self) -> Text:
        w, h = self.size.width, self.size.height
        rows = spark_rows(self.values, w, h, from_zero=self.from_zero)
        return Text("\n".join(rows), no_wrap=True, overflow="crop")


def _num(v: object) -> float | None:
    if v is None:
        return None
    try:
        f = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if f != f else f
