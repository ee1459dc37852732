"""Pinned panels: queries pinned from the SQL console, shown on the overview and refreshed with it.

A pinned panel is a `tui.config.Panel` (name, sql, kind) saved in the user's config file
(`[[panels]]`). The overview's refresh worker calls `fetch_pinned(app)`: every panel's statement runs
through the guard on its own cursor, with a row limit (`PIN_ROW_LIMIT`) and a time limit
(`PIN_TIMEOUT_S`, then interrupted). `PinnedStrip.show` draws the results:

- table:  the first rows that fit;
- number: the first numeric value of the last row, large, with its change and a trend (the rows'
  values when the query returns several, else the values seen at each refresh);
- chart:  the second column by the first (a block chart, first and last x under it).

`x` or `delete` on a focused panel removes it (after a confirmation) from the config file.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Static

from ecotop.tui.widgets.spark import Spark

#: Rows a pinned query keeps (the panel shows what fits).
PIN_ROW_LIMIT = 50
#: Seconds a pinned query may run before it is interrupted.
PIN_TIMEOUT_S = 5.0
#: Values a number panel remembers across refreshes for its trend.
TREND_KEEP = 60

_state: dict[str, Any] = {"version": 0, "cache": None}


# -- the config file -----------------------------------------------------------------------------


def config_path(app: Any) -> Path:
    """Where pins are written: the app's --config file, else ECOTOP_CONFIG, else the user file."""
    from ecotop.tui import config

    for attr in ("config_path",):
        value = getattr(app, attr, None)
        if value:
            return Path(value).expanduser()
    settings = getattr(app, "settings", None)
    user = getattr(settings, "user_file", None)
    if user:
        return Path(user)
    env = os.environ.get(config.CONFIG_ENV)
    if env:
        return Path(env).expanduser()
    return config.user_file()


def load_panels(app: Any) -> list[Any]:
    """The pinned panels (system files, then the user's), cached until a pin changes the file."""
    from ecotop.tui import config

    path = config_path(app)
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        mtime = None
    key = (_state["version"], str(path), mtime)
    cache = _state["cache"]
    if cache is not None and cache[0] == key:
        return list(cache[1])
    explicit = getattr(app, "config_path", None)
    try:
        panels = list(config.load(explicit).panels) if explicit else list(config.load().panels)
    except Exception:  # a broken config file is reported by the app at start; show no pins
        panels = []
    _state["cache"] = (key, panels)
    return list(panels)


def pinned_names(app: Any) -> set[str]:
    return {p.name for p in load_panels(app)}


def default_panel_name(sql: str, taken: set[str]) -> str:
    """A name from the statement's first table ("transactions"), made unique ("transactions 2")."""
    m = re.search(r"\bfrom\s+([A-Za-z_][A-Za-z0-9_.]*)", sql, re.IGNORECASE)
    base = m.group(1).split(".")[-1] if m else "query"
    name, n = base, 2
    while name in taken:
        name = f"{base} {n}"
        n += 1
    return name


def pin_panel(app: Any, name: str, sql: str, kind: str) -> Path:
    """Save the panel in the config file; returns the file. Raises ConfigError or ValueError."""
    from ecotop.tui import config

    path = config_path(app)
    config.add_panel(path, config.Panel(name, sql, kind))
    _state["version"] += 1
    return path


def unpin_panel(app: Any, name: str) -> bool:
    """Remove the panel from the config file; False when it is not there (e.g. a system file)."""
    from ecotop.tui import config

    removed = config.remove_panel(config_path(app), name)
    _state["version"] += 1
    return removed


# -- fetching (in the overview's refresh worker) -------------------------------------------------


@dataclass
class PinnedResult:
    name: str
    kind: str
    sql: str
    table: Any = None  # pyarrow.Table
    truncated: bool = False
    error: str | None = None
    elapsed_ms: float | None = None


def fetch_pinned(app: Any, panels: list[Any] | None = None) -> list[PinnedResult]:
    """Run every pinned panel's statement (guarded, row- and time-limited), each on its own cursor."""
    from ecotop.tui import adhoc

    out: list[PinnedResult] = []
    for panel in load_panels(app) if panels is None else panels:
        r = PinnedResult(panel.name, panel.kind, panel.sql)
        cur = None
        t0 = time.perf_counter()
        try:
            cur = app.db.cursor()
            res = adhoc.run_with_timeout(cur, panel.sql, PIN_ROW_LIMIT, PIN_TIMEOUT_S)
            r.table, r.truncated = res.table, res.truncated
        except Exception as exc:  # shown in the panel; the others still refresh
            text = str(exc).strip().splitlines()
            r.error = text[0] if text else type(exc).__name__
        finally:
            r.elapsed_ms = (time.perf_counter() - t0) * 1000
            if cur is not None:
                with contextlib.suppress(Exception):
                    cur.close()
        out.append(r)
    return out


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
        return v.strftime("%m-%d %H:%M")
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

    class RemoveRequested(Message):
        def __init__(self, panel: PinnedPanel) -> None:
            super().__init__()
            self.panel = panel

    def __init__(self, name: str, kind: str, **kw: Any) -> None:
        super().__init__(**kw)
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
        return getattr(self.app, "display_zone", None)

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
        parts = [f"{table.num_rows:,}{'+' if truncated else ''} rows"]
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

    def show(self, results: list[PinnedResult] | None) -> None:
        """Match the panels to `results` (by name, in order) and draw each."""
        results = results or []
        self.set_class(bool(results), "-shown")
        self.styles.height = 8 if self.app.size.height >= 36 else 6
        have = {p.panel_name: p for p in self.query(PinnedPanel)}
        wanted = [r.name for r in results]
        for name, panel in have.items():
            if name not in wanted:
                panel.remove()
        for r in results:
            panel = have.get(r.name)
            if panel is not None and panel.kind != r.kind:
                panel.remove()
                panel = None
            if panel is None:
                panel = PinnedPanel(r.name, r.kind, classes="pinned-panel")
                self.mount(panel)
                self.call_after_refresh(panel.show, r)
            else:
                panel.show(r)

    def on_pinned_panel_remove_requested(self, message: PinnedPanel.RemoveRequested) -> None:
        from ecotop.tui.widgets.sql_dialogs import ConfirmScreen

        panel = message.panel
        name = panel.panel_name

        def answer(yes: bool | None) -> None:
            if not yes:
                return
            try:
                removed = unpin_panel(self.app, name)
            except Exception as exc:
                self.app.notify(f"cannot remove {name!r}: {exc}", severity="error", timeout=5)
                return
            if not removed:
                self.app.notify(
                    f"{name!r} is pinned in a system config file; remove it there",
                    severity="warning",
                    timeout=5,
                )
                return
            panel.remove()
            if not [p for p in self.query(PinnedPanel) if p is not panel]:
                self.remove_class("-shown")
            self.app.notify(f"removed panel {name!r}", timeout=2)

        self.app.push_screen(ConfirmScreen(f"Remove the pinned panel {name!r}?"), answer)
