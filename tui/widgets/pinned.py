"""Pinned panels: queries pinned from the SQL console, shown on the overview and refreshed with it.

A pinned panel is a config file's `[[panels]]` entry (name, sql, kind). The overview's refresh
worker runs them (`tui.pins.fetch_pinned`, through the gateway) and hands the results to
`PinnedStrip.show`, which draws them (this module never reads the config file or runs SQL):

- table:  the first rows that fit;
- number: the first numeric value of the last row, large, with its change and a trend (the rows'
  values when the query returns several, else the values seen at each refresh);
- chart:  the second column by the first (a block chart, first and last x under it).

`x` or `delete` on a focused panel posts `RemoveRequested`; the screen confirms and removes it.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Static

from ecotop.tui.pins import PinnedResult
from ecotop.tui.widgets.spark import Spark

#: Values a number panel remembers across refreshes for its trend.
TREND_KEEP = 60

# -- drawing -------------------------------------------------------------------------------------


def _num(v: Any) -> float | None:
    if v is None or isinstance(v, bool):
        return None
    if isinstance(v, int | float | Decimal):
        f = float(v)
        return f if f == f else None
    return None


def _fmt(v: Any, zone: Any = None) -> str:
    from datetime import date, datetime

    from ecotop.tui.widgets.format import format_number

    if v is None:
        return "—"
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, int):
        return f"{v:,}" if abs(v) < 10**7 else format_number(v)
    if isinstance(v, float | Decimal):
        return format_number(v)
    if isinstance(v, datetime):
        if v.tzinfo is not None and zone is not None:
            v = v.astimezone(zone)
        return str(v.strftime("%m-%d %H:%M"))
    if isinstance(v, date):
        return v.isoformat()
    return str(v)


def stretch(values: list[float | None], width: int) -> list[float | None]:
    """Few points drawn across the width (each repeated), so a short series is not a sliver."""
    if not values or width <= len(values):
        return values
    out: list[float | None] = []
    for i in range(width):
        out.append(values[i * len(values) // width])
    return out


def number_of(table: Any) -> tuple[Any, list[float | None], str]:
    """(value, series, column name) for a number panel: the first numeric column, last row."""
    if table is None or table.num_rows == 0 or table.num_columns == 0:
        return None, [], ""
    rows = table.to_pylist()
    names = table.column_names
    col = next((n for n in names if _num(rows[-1][n]) is not None), names[0])
    series = [_num(r[col]) for r in rows]
    return rows[-1][col], series, col


class PinnedPanel(Vertical, can_focus=True):
    """One pinned query on the overview."""

    DEFAULT_CSS = """
    PinnedPanel {
        border: round $panel-lighten-2;
        border-title-color: $text;
        border-title-style: bold;
        border-subtitle-color: $text-muted;
        padding: 0 1;
        height: 1fr;
        width: 1fr;
    }
    PinnedPanel:focus { border: round $accent; }
    PinnedPanel.-error { border: round $error; }
    PinnedPanel > .pinned-body { height: auto; max-height: 100%; }
    PinnedPanel > .pinned-value { text-style: bold; height: 1; }
    PinnedPanel > Spark { height: 1fr; min-height: 1; }
    PinnedPanel > .pinned-caption { height: 1; color: $text-muted; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("x,delete", "remove", "Remove panel", show=True, key_display="x"),
    ]

    @dataclass
    class RemoveRequested(Message):
        """`x` on this panel: the screen asks for confirmation and removes it."""

        panel: PinnedPanel

    def __init__(self, name: str, kind: str, zone: Any = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.zone = zone  # the display zone for instants
        self.panel_name = name
        self.kind = kind
        self.border_title = name
        self.history: list[float | None] = []
        self.result: PinnedResult | None = None

    def compose(self) -> ComposeResult:
        if self.kind == "number":
            yield Static("…", classes="pinned-value")
            yield Spark()
            yield Static("", classes="pinned-caption")
        elif self.kind == "chart":
            yield Spark()
            yield Static("…", classes="pinned-caption")
        else:
            yield Static("…", classes="pinned-body")

    @property
    def _zone(self) -> Any:
        return self.zone

    def show(self, r: PinnedResult) -> None:
        self.result = r
        self.set_class(r.error is not None, "-error")
        ms = f"{r.elapsed_ms:.0f} ms" if r.elapsed_ms is not None else ""
        self.border_subtitle = ms
        if r.error is not None:
            self._show_error(r.error)
            return
        if self.kind == "number":
            self._show_number(r.table)
        elif self.kind == "chart":
            self._show_chart(r.table)
        else:
            self._show_table(r.table, r.truncated)

    def _first(self, cls: str) -> Static | None:
        found = self.query(f".{cls}")
        return found.first() if found else None  # type: ignore[return-value]

    def _show_error(self, message: str) -> None:
        target = self._first("pinned-body") or self._first("pinned-caption")
        if target is not None:
            target.update(Text("✖ " + message, style="red"))
        value = self._first("pinned-value")
        if value is not None:
            value.update("—")

    def _show_table(self, table: Any, truncated: bool) -> None:
        body = self._first("pinned-body")
        if body is None:
            return
        if table is None or table.num_columns == 0:
            body.update(Text("no rows", style="dim"))
            return
        fit = max(1, self.size.height - 1) if self.size.height else 5
        rows = table.slice(0, fit).to_pylist()
        cells = [[_fmt(v, self._zone) for v in row.values()] for row in rows]
        names = [str(n) for n in table.column_names]
        # whole columns that fit, left to right (a cut "…" column says nothing)
        room = max(8, (self.size.width or 40) - 4)
        keep = 0
        used = 0
        for i, name in enumerate(names):
            w = max([len(name)] + [len(r[i]) for r in cells]) + (1 if i else 0)
            if used + w > room and keep:
                break
            used += w
            keep += 1
        t = Table(box=None, padding=(0, 1, 0, 0), show_edge=False, header_style="bold")
        for name in names[:keep]:
            t.add_column(name, no_wrap=True, overflow="ellipsis")
        for r in cells:
            t.add_row(*(Text(c) for c in r[:keep]))
        body.update(t)
        more = table.num_rows - len(rows)
        n = table.num_rows
        parts = [f"{n:,}{'+' if truncated else ''} {'row' if n == 1 and not truncated else 'rows'}"]
        if more > 0:
            parts.append(f"{more:,} more")
        if keep < len(names):
            parts.append(f"{len(names) - keep} more cols")
        self.border_subtitle = " · ".join(parts)

    def _show_number(self, table: Any) -> None:
        from ecotop.tui.widgets.format import format_change

        value, series, col = number_of(table)
        if table is not None and table.num_rows <= 1:
            self.history = (self.history + [_num(value)])[-TREND_KEEP:]
            series = self.history
        text = Text(_fmt(value, self._zone), style="bold")
        prev = next((v for v in reversed(series[:-1]) if v is not None), None)
        cur = _num(value)
        if prev not in (None, 0) and cur is not None:
            text.append("  " + format_change("count", (cur - prev) / abs(prev) * 100), style="dim")
        v = self._first("pinned-value")
        if v is not None:
            v.update(text)
        with contextlib.suppress(Exception):
            spark = self.query_one(Spark)
            spark.set_values(stretch(series, spark.size.width) if len(series) > 1 else [])
        cap = self._first("pinned-caption")
        if cap is not None:
            cap.update(Text(col, style="dim"))

    def _show_chart(self, table: Any) -> None:
        cap = self._first("pinned-caption")
        if table is None or table.num_columns < 2 or table.num_rows == 0:
            if cap is not None:
                cap.update(Text("a chart needs two columns (x, y) and rows", style="dim"))
            return
        xs = table.column(0).to_pylist()
        ys = [_num(v) for v in table.column(1).to_pylist()]
        with contextlib.suppress(Exception):
            spark = self.query_one(Spark)
            spark.set_values(stretch(ys, spark.size.width))
        present = [y for y in ys if y is not None]
        z = self._zone
        last = _fmt(table.column(1)[-1].as_py(), z) if table.num_rows else "—"
        lo = _fmt(min(present)) if present else "—"
        hi = _fmt(max(present)) if present else "—"
        if cap is not None:
            cap.update(
                Text(
                    f"{_fmt(xs[0], z)} … {_fmt(xs[-1], z)} · last {last} · {lo}–{hi}",
                    style="dim",
                    no_wrap=True,
                    overflow="ellipsis",
                )
            )

    def action_remove(self) -> None:
        self.post_message(self.RemoveRequested(self))


class PinnedStrip(Horizontal):
    """The overview's row of pinned panels (hidden when nothing is pinned)."""

    DEFAULT_CSS = """
    PinnedStrip { height: 6; display: none; }
    PinnedStrip.-shown { display: block; }
    """

    zone: Any = None  # the display zone, set by the screen

    def show(self, results: list[PinnedResult] | None) -> None:
        """Match the panels to `results` (by name, in order) and draw each."""
        results = results or []
        self.set_class(bool(results), "-shown")
        self.styles.height = 8 if self.screen.size.height >= 36 else 6
        have = {p.panel_name: p for p in self.query(PinnedPanel)}
        wanted = [r.name for r in results]
        for name, old in have.items():
            if name not in wanted:
                old.remove()
        for r in results:
            panel: PinnedPanel | None = have.get(r.name)
            if panel is not None and panel.kind != r.kind:
                panel.remove()
                panel = None
            if panel is None:
                panel = PinnedPanel(r.name, r.kind, self.zone, classes="pinned-panel")
                self.mount(panel)
                self.call_after_refresh(panel.show, r)
            else:
                panel.show(r)
