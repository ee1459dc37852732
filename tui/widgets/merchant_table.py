"""MerchantTable: the merchants list, 100k rows, re-filtered in place on every keystroke.

A virtual table: it draws only the lines on screen, straight to strips, from the Arrow table seen
through an array of row numbers (sorting and filtering make a new array of row numbers, never a copy
of the table). A line is laid out to the terminal cell with rich's `cell_len`/`set_cell_size`, so
names with CJK and other wide characters (two cells each) line up, and `[` in a name is never markup.
The ID and name columns stay put when the other columns scroll sideways; the header stays on top.

Why not textual-fastdatatable here (it is what the SQL console uses): it renders every visible cell
through rich with per-cell styles on every change, 130-300 ms per filter keystroke for a screenful of
the 100k-row list on this machine (measured; see benchmarks/bench_merchant.py), over the 100 ms
budget; drawing lines directly costs a few milliseconds.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

import pyarrow as pa
from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ecotop.tui.widgets.format import DASH, format_change, format_value

# (column, label, kind, width) of the list, left to right. Name's width is set per data set.
COLUMNS: list[tuple[str, str, str, int]] = [
    ("merchant_id", "ID", "id", 6),
    ("name", "Name", "text", 20),
    ("industry", "Industry", "text", 13),
    ("city", "City", "text", 10),
    ("gmv", "GMV", "money", 11),
    ("orders", "Orders", "count", 7),
    ("growth", "Growth", "change", 8),
    ("aov", "AOV", "money", 9),
    ("refund_rate", "Refund", "rate", 7),
    ("repurchase_rate", "Repurch.", "rate", 8),
    ("member_share", "Member", "rate", 7),
]
NAME_WIDTH = (8, 24)  # the name column is as wide as the widest name, within these bounds
FIXED = 2  # ID and name stay when the rest scrolls sideways
GAP = 2  # cells between columns
PAD = 1  # cells before the first column


DIM = Style(dim=True)
UP_STYLE = Style(color="green")
DOWN_STYLE = Style(color="red")


def value_text(kind: str, value: Any, *, pending: bool = False) -> tuple[str, Style | None]:
    """(text, style) of one value: "—" for none, "…" while its column is still being computed."""
    if kind in ("text", "id"):
        return str("" if value is None else value), None
    if pending:
        return "…", DIM
    if value is None:
        return DASH, DIM
    if kind == "change":
        style = UP_STYLE if value > 0 else DOWN_STYLE if value < 0 else None
        return format_change("count", float(value) * 100.0), style
    return format_value(kind, value), None


def fit(text: str, width: int, right: bool) -> str:
    """`text` in exactly `width` terminal cells: cropped with "…" when longer, padded otherwise."""
    n = cell_len(text)
    if n > width:
        return set_cell_size(text, max(0, width - 1)) + "…"
    pad = " " * (width - n)
    return pad + text if right else text + pad


#: Drawn before the row under the cursor, so it shows without colour (NO_COLOR, monochrome).
CURSOR_MARK = "▶"


def layout(
    cells: Sequence[tuple[str, Style | None]],
    widths: Sequence[int],
    base: Style | None = None,
    *,
    cursor: bool = False,
) -> list[Segment]:
    """One line as segments: (text, style) per column laid out to `widths` (text left, numbers
    right), each styled over `base`; the cursor's row starts with CURSOR_MARK."""
    base = base or Style()
    gap = Segment(" " * GAP, base)
    out = [Segment(CURSOR_MARK if cursor else " " * PAD, base)]
    for i, ((text, style), (_, _, kind, _), width) in enumerate(
        zip(cells, COLUMNS, widths, strict=True)
    ):
        if i:
            out.append(gap)
        out.append(Segment(fit(text, width, kind != "text"), base + style if style else base))
    return out


def name_width(table: pa.Table) -> int:
    """A column width that fits the widest name (CJK characters take two cells), within bounds.

    Vectorised: characters plus one extra cell per 3-byte character (CJK is 3 bytes in UTF-8 and 2
    cells wide), which is exact for the names we show and close enough to size a column.
    """
    import pyarrow.compute as pc

    if table.num_rows == 0:
        return NAME_WIDTH[0]
    names = table["name"]
    chars = pc.utf8_length(names)
    extra = pc.divide(pc.subtract(pc.binary_length(names), chars), 2)
    widest = pc.max(pc.add(chars, extra)).as_py() or 0
    return max(NAME_WIDTH[0], min(NAME_WIDTH[1], int(widest)))


class MerchantTable(ScrollView, can_focus=True):
    """The merchants list: `show(table, rows, sort=..., ...)` sets what it shows; the cursor is a row;
    `enter` (or a click on the cursor row) posts `MerchantTable.Selected(merchant_id)`."""

    DEFAULT_CSS = """
    MerchantTable { height: 1fr; background: $surface; }
    MerchantTable > .merchant-table--header { text-style: bold; background: $primary; }
    MerchantTable > .merchant-table--cursor { background: $secondary; }
    MerchantTable:blur > .merchant-table--cursor { background: $secondary 50%; }
    MerchantTable > .merchant-table--odd { background: $primary 10%; }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "merchant-table--header",
        "merchant-table--cursor",
        "merchant-table--odd",
    }

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select", "Open", show=True),
        Binding("up", "move(-1)", "Up", show=False),
        Binding("down", "move(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "edge(-1)", "First", show=False),
        Binding("end", "edge(1)", "Last", show=False),
        Binding("left", "scroll_left", "Left", show=False),
        Binding("right", "scroll_right", "Right", show=False),
    ]

    cursor_row: reactive[int] = reactive(0, always_update=True, repaint=False)

    class Selected(Message):
        """`enter` on a merchant."""

        def __init__(self, merchant_id: int) -> None:
            super().__init__()
            self.merchant_id = merchant_id

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id, classes=classes)
        self.table: pa.Table | None = None
        self.rows: pa.Array = pa.array([], pa.int64())
        self.sort_column = "gmv"
        self.descending = True
        self._pending: set[str] = set()
        self._widths = [w for *_, w in COLUMNS]
        self._arrays: dict[str, Any] = {}
        self._version = 0
        self._lines: OrderedDict[tuple[Any, ...], Strip] = OrderedDict()
        self._set_size()

    # -- data ---------------------------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        return len(self.rows)

    def show(
        self,
        table: pa.Table,
        rows: pa.Array | None = None,
        *,
        sort: str,
        descending: bool,
        pending: Iterable[str] = (),
        name_cells: int | None = None,
        keep_merchant: int | None = None,
    ) -> None:
        """Show the `rows` (row numbers, already filtered and sorted; all when None) of `table`;
        keep the cursor on `keep_merchant` if it is still shown, else on the same row number.

        A new sort with the cursor on the first row shows the new first rows (the top stays the top:
        following that merchant opened the list in its middle); with the cursor moved, the cursor
        keeps its merchant and the view scrolls to it."""
        resorted = (sort, descending) != (self.sort_column, self.descending)
        if resorted and self.cursor_row == 0:
            keep_merchant = None
        if table is not self.table:
            self._arrays = {
                c: table[c].combine_chunks() for c, *_ in COLUMNS if c in table.column_names
            }
        self.table = table
        self.rows = rows if rows is not None else pa.array(range(table.num_rows), pa.int64())
        self.sort_column, self.descending = sort, descending
        self._pending = set(pending)
        self._widths[1] = name_cells or self._widths[1]
        self._version += 1
        self._lines.clear()
        n = self.row_count
        row = self.cursor_row
        if keep_merchant is not None and n:
            row = _row_of(table, self.rows, keep_merchant, default=row)
        self._set_size()
        self.cursor_row = max(0, min(row, n - 1)) if n else 0
        if self.cursor_row == 0:
            self.scroll_to(y=0, animate=False)
        self.refresh()

    def merchant_at_cursor(self) -> int | None:
        return self.merchant_at(self.cursor_row)

    def merchant_at(self, row: int) -> int | None:
        if self.table is None or not 0 <= row < self.row_count:
            return None
        return int(self._arrays["merchant_id"][self.rows[row].as_py()].as_py())

    def header_text(self) -> str:
        return "".join(seg.text for seg in self._header())

    def _set_size(self) -> None:
        width = PAD + sum(self._widths) + GAP * (len(self._widths) - 1) + 1
        self.virtual_size = Size(width, self.row_count + 1)

    # -- drawing ------------------------------------------------------------------------------------

    def _fixed_width(self) -> int:
        return PAD + sum(self._widths[:FIXED]) + GAP * FIXED

    def _header(self, style: Style | None = None) -> list[Segment]:
        cells: list[tuple[str, Style | None]] = []
        for column, label, _, _ in COLUMNS:
            if column == self.sort_column:
                label = f"{label} {'▼' if self.descending else '▲'}"
            cells.append((label, None))
        return layout(cells, self._widths, style)

    def _row(self, row: int, style: Style, cursor: bool = False) -> list[Segment]:
        at = self.rows[row].as_py()
        cells = []
        for column, _, kind, _ in COLUMNS:
            arr = self._arrays.get(column)
            value = None if arr is None else arr[at].as_py()
            cells.append(value_text(kind, value, pending=column in self._pending))
        return layout(cells, self._widths, style, cursor=cursor)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        scroll_x, scroll_y = self.scroll_offset
        if y == 0:
            style = self.rich_style + self.get_component_rich_style("merchant-table--header")
            return self._strip(style, width, scroll_x, ("h",))
        row = scroll_y + y - 1
        if row >= self.row_count:
            return Strip.blank(width, self.rich_style)
        if row == self.cursor_row:
            style = self.rich_style + self.get_component_rich_style("merchant-table--cursor")
            kind = "c"
        elif row % 2:
            style = self.rich_style + self.get_component_rich_style("merchant-table--odd")
            kind = "o"
        else:
            style = self.rich_style
            kind = "e"
        return self._strip(style, width, scroll_x, (row, kind), row=row)

    def _strip(
        self, style: Style, width: int, scroll_x: int, key: tuple[Any, ...], row: int | None = None
    ) -> Strip:
        cache_key = (*key, self._version, width, scroll_x, style)
        strip = self._lines.get(cache_key)
        if strip is None:
            cursor = row is not None and row == self.cursor_row
            segments = self._header(style) if row is None else self._row(row, style, cursor)
            if scroll_x:
                fixed = self._fixed_width()
                total = sum(seg.cell_length for seg in segments)
                parts = list(Segment.divide(segments, [fixed, fixed + scroll_x, total]))
                segments = parts[0] + (parts[2] if len(parts) > 2 else [])
            segments = Segment.adjust_line_length(segments, width, style)
            strip = Strip(segments, width)
            self._lines[cache_key] = strip
            while len(self._lines) > 400:
                self._lines.popitem(last=False)
        return strip

    def watch_cursor_row(self, old: int, new: int) -> None:
        self._scroll_to_cursor()
        self.refresh()

    def _visible_rows(self) -> int:
        return max(1, self.size.height - 1)

    def _scroll_to_cursor(self) -> None:
        top = int(self.scroll_y)
        h = self._visible_rows()
        row = self.cursor_row
        if row < top:
            self.scroll_to(y=row, animate=False)
        elif row >= top + h:
            self.scroll_to(y=row - h + 1, animate=False)

    def on_resize(self, event: events.Resize) -> None:
        self._lines.clear()
        self._scroll_to_cursor()

    def on_focus(self, event: events.Focus) -> None:
        self.refresh()

    def on_blur(self, event: events.Blur) -> None:
        self.refresh()

    # -- keys and mouse -----------------------------------------------------------------------------

    def action_move(self, step: int) -> None:
        if self.row_count:
            self.cursor_row = max(0, min(self.row_count - 1, self.cursor_row + int(step)))

    def action_page(self, step: int) -> None:
        self.action_move(int(step) * self._visible_rows())

    def action_edge(self, step: int) -> None:
        if self.row_count:
            self.cursor_row = 0 if int(step) < 0 else self.row_count - 1

    def action_select(self) -> None:
        mid = self.merchant_at_cursor()
        if mid is not None:
            self.post_message(self.Selected(mid))

    def on_click(self, event: events.Click) -> None:
        if event.y == 0:
            return
        row = int(self.scroll_y) + event.y - 1
        if 0 <= row < self.row_count:
            if row == self.cursor_row and event.chain >= 2:
                self.action_select()
            self.cursor_row = row


def _row_of(table: pa.Table, rows: pa.Array, merchant_id: int, default: int) -> int:
    """Where `merchant_id` is among the shown `rows` of `table` (default when it is not)."""
    import pyarrow.compute as pc

    ids = table["merchant_id"]
    at = pc.index(ids, pa.scalar(merchant_id, ids.type)).as_py()
    if at is None or at < 0:
        return default
    i = pc.index(rows, pa.scalar(at, rows.type)).as_py()
    return default if i is None or i < 0 else int(i)
