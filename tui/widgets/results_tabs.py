"""ResultsTabs: one tab per statement run, each an Arrow-backed table with its column types.

A result holds only the rows on display (the console pushes the row limit into DuckDB), so a huge
table shows its first rows at once; the footer says "10,000 of more rows" when the limit cut it.
Cells are copied with `ctrl+c` (the cell, or a selection made with shift+arrows) through the
terminal (OSC 52, so it works over SSH); `e` asks the console to export the whole result.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import pyarrow as pa
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static

#: Widest a column is drawn (cells are cut with an ellipsis; the whole value is copied).
MAX_COLUMN_WIDTH = 48
NULL = "∅"


@dataclass
class ResultData:
    """One statement's outcome as the console shows it."""

    index: int
    sql: str
    table: pa.Table | None = None
    types: list[str] = field(default_factory=list)
    truncated: bool = False
    elapsed_ms: float | None = None
    error: str | None = None
    cancelled: bool = False
    shown: pa.Table | None = None  # `table` as displayed (instants in the display zone)

    @property
    def rows(self) -> int:
        return self.table.num_rows if self.table is not None else 0

    @property
    def summary(self) -> str:
        return self.summary_text(True)

    def summary_text(self, timing: bool = True) -> str:
        if self.cancelled:
            return "cancelled"
        if self.error is not None:
            return "error"
        n = f"{self.rows:,}"
        rows = f"{n} of more rows" if self.truncated else f"{n} row{'s' if self.rows != 1 else ''}"
        if self.elapsed_ms is None or not timing:
            return rows
        return f"{rows} · {format_ms(self.elapsed_ms)}"


def format_ms(ms: float) -> str:
    if ms >= 10_000:
        return f"{ms / 1000:.0f} s"
    if ms >= 1000:
        return f"{ms / 1000:.1f} s"
    return f"{ms:.0f} ms"


def short_sql(sql: str, width: int = 24) -> str:
    """A statement squeezed onto one short line (for tab titles)."""
    from ecotop.tui.widgets.sql_text import strip_comments

    text = re.sub(r"\s+", " ", strip_comments(sql)).strip()
    return text if len(text) <= width else text[: width - 1] + "…"


def display_table(table: pa.Table, zone: Any = None) -> pa.Table:
    """Instants shown in the display zone (a metadata change: no data is copied)."""
    if zone is None:
        return table
    key = zone.key if isinstance(zone, ZoneInfo) else str(zone)
    cols = []
    changed = False
    for f, col in zip(table.schema, table.columns, strict=True):
        if pa.types.is_timestamp(f.type) and f.type.tz is not None:
            cols.append(col.cast(pa.timestamp(f.type.unit, tz=key)))
            changed = True
        else:
            cols.append(col)
    if not changed:
        return table
    return pa.Table.from_arrays(cols, names=table.column_names)


def cell_text(value: Any) -> str:
    """A value as the cell viewer and the clipboard show it (nested values as indented JSON)."""
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return value
    if isinstance(value, (list, dict)):
        import json

        return json.dumps(value, indent=2, ensure_ascii=False, default=str)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def warm_up() -> None:
    """Load what the first result needs (the table widget, Arrow compute, the zone database).

    About 1 s the first time on this machine; run in a thread when the console opens so the first
    query shows its rows at once.
    """
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from textual_fastdatatable import (
        ArrowBackend,
        data_table,  # noqa: F401 - the widget module itself
    )

    t = pa.table(
        {
            "t": pa.array([datetime(2026, 1, 1, tzinfo=UTC)], pa.timestamp("us", tz="UTC")),
            "s": ["x"],
            "n": [1],
        }
    )
    backend = ArrowBackend(display_table(t, ZoneInfo("Asia/Shanghai")))
    backend.render_markup = False
    _ = backend.column_content_widths


def type_name(dtype: pa.DataType) -> str:
    """A short SQL-ish name for an Arrow type (when DuckDB's own type name is not known)."""
    t = str(dtype)
    return {
        "int64": "BIGINT",
        "int32": "INTEGER",
        "int16": "SMALLINT",
        "int8": "TINYINT",
        "double": "DOUBLE",
        "float": "FLOAT",
        "string": "VARCHAR",
        "large_string": "VARCHAR",
        "string_view": "VARCHAR",
        "bool": "BOOLEAN",
        "date32[day]": "DATE",
    }.get(t, t.upper())


_SHORT_TYPES = {
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
    "TIMESTAMP": "timestamp",
    "INTEGER": "int",
    "BIGINT": "bigint",
    "VARCHAR": "varchar",
    "DOUBLE": "double",
    "BOOLEAN": "bool",
}


def short_type(duck_type: str) -> str:
    """A DuckDB type name as the header shows it: lower case, long names shortened."""
    t = duck_type.strip()
    if t.upper() in _SHORT_TYPES:
        return _SHORT_TYPES[t.upper()]
    if t.upper().startswith("DECIMAL"):
        return "dec" + t[7:].replace(" ", "")
    return t.lower()


_RESULT_TABLE: Any = None


def plain_cell(value: Any, col: Any = None) -> tuple[str, bool] | None:
    """(text, right-aligned) of a value drawn as plain one-line text, or None for the rest
    (NULL, booleans, multi-line or control characters, nested and binary values)."""
    from datetime import date, datetime
    from datetime import time as dtime

    if isinstance(value, str):
        if not value.isprintable():
            return None
        return value, False
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float | Decimal | datetime | date | dtime):
        from textual_fastdatatable.format import display_text

        text = display_text(value, col)
        if "[" in text or "\\" in text:  # markup (infinite dates and the like)
            return None
        return text, True
    return None


def fit(text: str, width: int, right: bool) -> str:
    """`text` in exactly `width` cells: cut with "…" when longer, padded when shorter."""
    from rich.cells import cell_len, set_cell_size

    if width <= 0:
        return ""
    n = cell_len(text)
    if n > width:
        return set_cell_size(text, width - 1) + "…"
    pad = " " * (width - n)
    return pad + text if right else text + pad


def _result_table_class() -> Any:
    """The results' DataTable: `enter` shows the cell under the cursor in full (built lazily, so
    importing this module does not import the table widget)."""
    global _RESULT_TABLE
    if _RESULT_TABLE is None:
        from textual_fastdatatable import DataTable

        class ResultTable(DataTable):
            #: When its rows were first drawn (perf_counter; the console benchmark reads it).
            painted_at: float | None = None

            def render_lines(self, crop: Any) -> Any:
                lines = super().render_lines(crop)
                if self.painted_at is None and self.row_count:
                    self.painted_at = time.perf_counter()
                return lines

            def _render_cell(
                self,
                row_index: int,
                column_index: int,
                base_style: Any,
                width: int,
                cursor: bool = False,
                hover: bool = False,
                in_range: bool = False,
            ) -> Any:
                """Plain one-line values straight to a segment (Rich's general path cost most
                of the first paint); anything else, and the header, the widget's own way."""
                if (
                    row_index >= max(0, self.fixed_rows)
                    and column_index >= max(0, self.fixed_columns)
                    and self.backend is not None
                ):
                    key = (
                        row_index,
                        column_index,
                        base_style,
                        cursor,
                        hover,
                        in_range,
                        self._show_hover_cursor,
                        self._update_count,
                        self._pseudo_class_state,
                    )
                    cache = self._cell_render_cache
                    if key in cache:
                        return cache[key]
                    value = self.backend.get_cell_at(row_index, column_index)
                    plain = plain_cell(value, self.ordered_columns[column_index])
                    if plain is not None:
                        from rich.segment import Segment
                        from rich.style import Style

                        text, right = plain
                        pre, post = self._get_styles_to_render_cell(
                            False,
                            False,
                            False,
                            hover,
                            cursor,
                            in_range,
                            self.show_cursor,
                            self._show_hover_cursor,
                            self.cursor_type == "range",
                            self.cursor_foreground_priority == "css",
                            self.cursor_background_priority == "css",
                        )
                        meta = Style.from_meta({"row": row_index, "column": column_index})
                        style = base_style + meta + pre + post
                        lines = [[Segment(" " + fit(text, width - 2, right) + " ", style)]]
                        cache[key] = lines
                        return lines
                return super()._render_cell(
                    row_index, column_index, base_style, width, cursor, hover, in_range
                )

            def action_select_cursor(self) -> None:
                view = next((a for a in self.ancestors if isinstance(a, ResultView)), None)
                if view is not None and self.row_count:
                    c = self.cursor_coordinate
                    view.show_cell(c.row, c.column)

        _RESULT_TABLE = ResultTable
    return _RESULT_TABLE


class ResultView(Vertical):
    """One result: the table (or the message of a statement that returned none) and a footer."""

    DEFAULT_CSS = """
    ResultView { height: 1fr; }
    ResultView > .result-table { height: 1fr; max-height: 100%; }
    ResultView > .result-footer { height: 1; color: $text-muted; padding: 0 1; }
    ResultView > .result-empty { height: 1fr; color: $text-muted; padding: 1 2; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("e", "export", "Export", show=True),
    ]

    @dataclass
    class ExportRequested(Message):
        """`e` on a result: the screen asks where and exports it."""

        result: ResultData

    def __init__(
        self, result: ResultData, zone: Any = None, show_timing: bool = True, **kw: Any
    ) -> None:
        super().__init__(**kw)
        self.result = result
        self.zone = zone
        self.show_timing = show_timing

    def compose(self) -> ComposeResult:
        from textual_fastdatatable import ArrowBackend

        r = self.result
        if r.table is not None and r.table.num_columns:
            table = r.shown if r.shown is not None else display_table(r.table, self.zone)
            types = r.types or [type_name(f.type) for f in table.schema]
            labels: list[str | Text] = []
            for name, ty in zip(table.column_names, types, strict=True):
                label = Text(str(name), style="bold")
                label.append(" " + short_type(ty), style="not bold dim")
                labels.append(label)
            yield _result_table_class()(
                backend=ArrowBackend(table),
                column_labels=labels,
                cursor_type="range",
                max_column_content_width=MAX_COLUMN_WIDTH,
                null_rep=NULL,
                render_markup=False,
                classes="result-table",
            )
        else:
            text = "the statement returned no columns" if r.error is None else r.error
            yield Static(Text(text), classes="result-empty")
        yield Static(Text(r.summary_text(self.show_timing)), classes="result-footer")

    @property
    def data_table(self) -> Any:
        from textual_fastdatatable import DataTable

        found = self.query(DataTable)
        return found.first() if found else None

    def action_export(self) -> None:
        self.post_message(self.ExportRequested(self.result))

    def show_cell(self, row: int, col: int) -> None:
        """The whole value of one cell in a dialog (cells are cut at MAX_COLUMN_WIDTH)."""
        from ecotop.tui.widgets.sql_dialogs import CellScreen

        table = self.result.shown if self.result.shown is not None else self.result.table
        if table is None or not (0 <= row < table.num_rows and 0 <= col < table.num_columns):
            return
        value = table.column(col)[row].as_py()
        self.app.push_screen(
            CellScreen(f"{table.column_names[col]} · row {row + 1}", cell_text(value))
        )


class ResultsTabs(Vertical):
    """The results of the last run: a tab per statement (replaced by the next run).

    A one-line strip of tab titles over a ContentSwitcher of ResultViews: lighter than Textual's
    TabbedContent (which cost a third of the console's start). `[` and `]` switch tabs.
    """

    DEFAULT_CSS = """
    ResultsTabs { height: 1fr; }
    ResultsTabs > .results-strip { height: 1; background: $boost; }
    ResultsTabs > ContentSwitcher { height: 1fr; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left_square_bracket", "tab(-1)", "Previous result", show=False),
        Binding("right_square_bracket", "tab(1)", "Next result", show=False),
    ]

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.results: list[ResultData] = []
        self.zone: Any = None
        self.show_timing = True
        self._generation = 0
        self._active = 0

    def compose(self) -> ComposeResult:
        from textual.widgets import ContentSwitcher

        yield Static("", classes="results-strip")
        yield ContentSwitcher()

    @property
    def _switcher(self) -> Any:
        from textual.widgets import ContentSwitcher

        return self.query_one(ContentSwitcher)

    def _pane_id(self, index: int) -> str:
        return f"result-{self._generation}-{index}"

    def _draw_strip(self) -> None:
        strip = Text(no_wrap=True, overflow="ellipsis")
        for i, r in enumerate(self.results):
            title = f" {r.index + 1} {short_sql(r.sql)}"
            if r.error is not None and not r.cancelled:
                title += " ✖"
            strip.append(title + " ", style="reverse bold" if i == self._active else "")
            strip.append("│", style="dim")
        if len(self.results) > 1:
            strip.append("  [ ] switch", style="dim")
        self.query_one(".results-strip", Static).update(strip)

    async def show_results(self, results: list[ResultData]) -> None:
        """Replace every tab with one per result (the first active)."""
        first = True
        for r in results:
            await self.add_result(r, first=first)
            first = False

    async def add_result(self, r: ResultData, first: bool) -> None:
        """Add one result as its tab (the first of a run clears the previous run's tabs)."""
        switcher = self._switcher
        if first:
            self._generation += 1
            self.results = []
            self._active = 0
            # not awaited: the old tabs go while the new one is built (waiting for their
            # removal cost a few frames before the first rows showed)
            switcher.remove_children()
        self.results.append(r)
        view = ResultView(r, self.zone, self.show_timing, id=self._pane_id(len(self.results) - 1))
        view.display = first
        await switcher.mount(view)
        if first:
            switcher.current = view.id
        self._draw_strip()

    def action_tab(self, delta: int) -> None:
        if not self.results:
            return
        self._active = (self._active + delta) % len(self.results)
        switcher = self._switcher
        switcher.current = self._pane_id(self._active)
        self._draw_strip()
        view = self.current
        table = view.data_table if view is not None else None
        if table is not None:
            table.focus()

    @property
    def current(self) -> ResultView | None:
        if not self.results:
            return None
        found = self.query(f"#{self._pane_id(self._active)}")
        return found.first() if found else None  # type: ignore[return-value]
