"""Charts and tables of a pillar view: a plotext line chart per measure, Arrow tables as DataTables.

textual-plotext is imported only when a chart is made (it costs ~135 ms at start-up). A chart or a
table redraws only when its data changed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from rich.text import Text
from textual.containers import Vertical
from textual.widgets import DataTable

from ecotop.tui.widgets.format import format_growth, format_value

#: A column is a fraction shown in % when one of its words is one of these (collection_rate_d0,
#: views_share, reads_growth, message_reach; not `shares`, a count).
_RATE_WORD = re.compile(r"(^|_)(rate|share|growth|reach)(_|$)")


def column_kind(name: str) -> str:
    """How to show a column, from its name: rate (share, growth), money, count or text."""
    n = name.lower()
    if _RATE_WORD.search(n):
        return "rate"
    if "gmv" in n or n in ("aov", "refunded", "amount", "deposits_waived", "arppu"):
        return "money"
    if n.endswith(("_id", "id")):
        return "id"
    if n in ("tpm", "avg_watch_s") or n.endswith("_minutes"):
        return "ratio"
    return "count"


def format_cell(name: str, value: Any, zone: Any = None) -> str:
    """A table cell: numbers per their column's kind, times in the display zone, text as is."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        if zone is not None and value.tzinfo is not None:
            value = value.astimezone(zone)
        return str(value.strftime("%m-%d %H:%M"))
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float | Decimal):
        kind = column_kind(name)
        if kind == "id":
            return str(value)
        if kind == "rate" and name.endswith("_growth"):
            return format_growth(value)  # as the tiles write a change: ▲ 20.0%
        return format_value(kind, value, compact=True)
    return str(value)


def column_order(names: Sequence[str]) -> list[str]:
    """Columns with each `X_previous` and `X_growth` moved right after `X`, so a narrow terminal cuts
    the least read columns, not a growth in the middle of its number."""
    out = [n for n in names if not n.endswith(("_previous", "_growth"))]
    for n in names:
        if not n.endswith(("_previous", "_growth")):
            continue
        base = n.rsplit("_", 1)[0]
        if base in out:
            at = out.index(base) + 1
            while at < len(out) and out[at].startswith(base + "_") and out[at] != base:
                at += 1
            out.insert(at, n)
        else:
            out.append(n)
    return out


def heading(name: str) -> str:
    return name.replace("_", " ")


class ChartBox(Vertical):
    """A bordered line chart of one series over the window (plotext, imported on first use)."""

    DEFAULT_CSS = """
    ChartBox { height: 1fr; padding: 0; }
    ChartBox > .chart-plot { height: 1fr; }
    """

    def __init__(self, column: str, label: str, **kw: Any) -> None:
        super().__init__(**kw)
        self.column = column
        self.label = label
        self._data: tuple[Any, ...] | None = None

    def compose(self):  # type: ignore[no-untyped-def]
        from textual_plotext import PlotextPlot

        yield PlotextPlot(classes="chart-plot")

    def show(self, xs: Sequence[datetime], ys: Sequence[Any], *, zone: Any, long: bool) -> None:
        """Draw ys over the bucket starts xs (None values are gaps); a no-op when unchanged."""
        scale = 100.0 if column_kind(self.column) == "rate" else 1.0  # rates in percent
        values = [None if v is None else float(v) * scale for v in ys]
        values = [None if v is not None and not math.isfinite(v) else v for v in values]
        key = (tuple(xs), tuple(values), long)
        if key == self._data:
            return
        self._data = key
        from textual_plotext import PlotextPlot

        plot = self.query_one(PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(f"{self.label} (%)" if scale != 1.0 else self.label)
        points = [(i, v) for i, v in enumerate(values) if v is not None]
        if points:
            plt.plot([p[0] for p in points], [p[1] for p in points], marker="braille")
        n = len(xs)
        if n:
            fmt = "%m-%d" if long else "%H:%M"
            at = sorted({0, n // 3, 2 * n // 3, n - 1})
            labels = [_local(xs[i], zone).strftime(fmt) for i in at]
            plt.xticks([float(i) for i in at], labels)
        total = [v for v in values if v is not None]
        if total:
            kind = column_kind(self.column)
            # counts and money from zero (honest heights); a rate on its own range (a 99.3-99.6%
            # success rate is not a solid bar)
            lo, hi = (
                (min(total), max(total)) if kind == "rate" else (min(0.0, min(total)), max(total))
            )
            ticks = y_ticks(lo, hi, whole=kind in ("count", "money"))
            plt.ylim(ticks[0], ticks[-1])
            plt.yticks(ticks, [tick_label(t) for t in ticks])
        plot.refresh()


def y_ticks(lo: float, hi: float, *, whole: bool, count: int = 4) -> list[float]:
    """Round ticks from `lo` to at least `hi`: steps of 1, 2, 2.5 or 5 times a power of ten, and
    whole numbers only for counts (no `0.33` lives, no `-2.5` net followers)."""
    if hi <= lo:
        hi = lo + 1
    raw = (hi - lo) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    if whole:
        step = max(1.0, float(math.ceil(step)))
    start = math.floor(lo / step) * step
    out = [start]
    while out[-1] < hi - 1e-9:
        out.append(out[-1] + step)
    return out


def tick_label(t: float) -> str:
    """A y-axis label: whole numbers without decimals, compact from 10,000 (12K, 1.5M)."""
    a = abs(t)
    if a >= 1e4:
        for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
            if a >= limit:
                return f"{t / limit:g}{suffix}"
    if float(t).is_integer():
        return f"{int(t):,}"
    return f"{t:g}"


def _local(ts: datetime, zone: Any) -> datetime:
    if zone is not None and ts.tzinfo is not None:
        return ts.astimezone(zone)
    return ts


class ArrowTable(DataTable[Any]):
    """A DataTable of an Arrow table's rows, formatted per column; rows keep their data.

    `merchant_id` of the row under the cursor (when the table has that column) is what `enter`
    drills into.
    """

    DEFAULT_CSS = """
    ArrowTable { height: auto; max-height: 14; }
    """

    def __init__(self, key: str, hide: Sequence[str] = (), **kw: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kw)
        self.key = key
        self.hide = set(hide)
        self._columns: tuple[str, ...] = ()
        self._rows: list[tuple[str, ...]] = []
        self._raw: list[dict[str, Any]] = []
        self._right: set[int] = set()  # numeric columns: every cell right-aligned, "—" too
        self.filter_text = ""

    def show(self, table: Any, zone: Any = None) -> None:
        """Show an Arrow table (a no-op when the formatted rows did not change)."""
        raw = table.to_pylist() if table is not None else []
        names = column_order(
            [n for n in (table.column_names if table is not None else []) if n not in self.hide]
        )
        rows = [tuple(format_cell(n, r.get(n), zone) for n in names) for r in raw]
        if tuple(names) != self._columns:
            self.clear(columns=True)
            self._columns = tuple(names)
            self._right = set()
            for i, n in enumerate(names):
                first = next((r.get(n) for r in raw if r.get(n) is not None), None)
                numeric = isinstance(first, int | float | Decimal) and not isinstance(first, bool)
                if numeric:
                    self._right.add(i)
                label = Text(heading(n), justify="right" if numeric else "left")
                self.add_column(label, key=n)
            self._rows = []
        self._raw = raw
        if rows == self._rows:
            return
        self._rows = rows
        self._fill()

    def _fill(self) -> None:
        cursor = self.cursor_row
        self.clear(columns=False)
        needle = self.filter_text.lower()
        for i, row in enumerate(self._rows):
            if needle and not any(needle in c.lower() for c in row):
                continue
            cells = [
                Text(c, justify="right") if j in self._right or _numeric_text(c) else Text(c)
                for j, c in enumerate(row)
            ]
            self.add_row(*cells, key=str(i))
        if self.row_count:
            self.move_cursor(row=min(cursor, self.row_count - 1))

    def set_filter(self, text: str) -> None:
        if text != self.filter_text:
            self.filter_text = text
            self._fill()

    def row_data(self, row_key: Any) -> dict[str, Any] | None:
        try:
            return self._raw[int(getattr(row_key, "value", row_key))]
        except (ValueError, IndexError, TypeError):
            return None

    @property
    def rows_shown(self) -> list[tuple[str, ...]]:
        return [
            r
            for r in self._rows
            if not self.filter_text or self.filter_text.lower() in " ".join(r).lower()
        ]


_NUMERIC = re.compile(r"^[≈¥+\-▲▼ ]*[\d,]+(\.\d+)?(%|pp|[KMBT])?$")


def _numeric_text(c: str) -> bool:
    return bool(_NUMERIC.match(c))


def heatmap_lines(rows: list[dict[str, Any]], value: str = "sessions") -> list[str]:
    """A weekday x hour block heatmap (Mon..Sun rows, 0..23 columns, two cells an hour); rows carry
    `weekday` (ISO, 1 = Monday), `hour` and the value column."""
    shades = " ░▒▓█"
    grid: dict[tuple[int, int], float] = {}
    for r in rows:
        v = r.get(value)
        if r.get("weekday") is None or r.get("hour") is None or v is None:
            continue
        grid[(int(r["weekday"]), int(r["hour"]))] = float(v)
    top = max(grid.values(), default=0.0)
    days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    base = 1  # ISO weekdays: 1 = Monday
    out = ["    " + "".join(f"{h:<6d}" for h in range(0, 24, 3))]
    for d in range(7):
        cells = []
        for h in range(24):
            v = grid.get((d + base, h), 0.0)
            level = 0 if top <= 0 else min(4, math.ceil(v / top * 4))
            cells.append(shades[level] * 2)
        out.append(f"{days[d]} " + "".join(cells))
    return out
