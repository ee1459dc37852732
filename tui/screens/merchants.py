"""`m`: every merchant with its measures over the range; sort, filter as you type, `enter` opens one.

The list comes from the per-merchant rollups in one query (queries.merchant.merchant_list) run by the
refresh worker; the repurchase rate and member share (distinct customers and a membership lookup,
slower) follow from a second worker and fill their columns in. Filtering and sorting happen in memory
on the Arrow table, never in SQL: the filter text is matched literally (quotes, %, _ are characters).
Lists are cached per (file, range, as_of), so reopening the screen over the same data is instant; on
live data the list follows the minute-aligned as_of.

Keys: `/` filter (enter or esc returns to the list, the filter stays), `s` or `>` next sort column,
`<` previous, `I` invert the order, `enter` open the merchant, `esc` back.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Input, Static

from ecotop.tui.host import Host
from ecotop.tui.screens.base import EcotopScreen, OpenMerchant, RefreshContext, with_cursor
from ecotop.tui.screens.merchant import MerchantScreen
from ecotop.tui.widgets.footer import KeyHints
from ecotop.tui.widgets.merchant_table import COLUMNS, MerchantTable, name_width
from ecotop.tui.widgets.status import StatusBar

__all__ = ["MerchantScreen", "MerchantsScreen"]

SORTABLE = [c for c, *_ in COLUMNS]
LABELS = {c: label for c, label, *_ in COLUMNS}
LOYALTY_COLUMNS = ("repurchase_rate", "member_share")
#: Lists kept in memory: (file, range, as_of) -> ListData.
_CACHE: OrderedDict[tuple[str, str, datetime], ListData] = OrderedDict()
_CACHE_SIZE = 4
#: The merchants' names per file: file -> (signature, dims table, name column width).
_DIMS: dict[str, tuple[Any, Any, int]] = {}
#: Both caches are read on the UI thread and filled by workers (the list, the prefetch).
_LOCK = threading.Lock()


def _cache_get(key: tuple[str, str, datetime]) -> ListData | None:
    with _LOCK:
        return _CACHE.get(key)


@dataclass
class ListData:
    """One computed list: the Arrow table (every merchant) and whether loyalty is filled in."""

    key: tuple[str, str, datetime]
    window: Any
    table: Any  # pyarrow.Table
    name_cells: int
    loyalty: bool = False
    elapsed_ms: float = 0.0


def _cache_put(data: ListData) -> None:
    with _LOCK:
        _CACHE[data.key] = data
        _CACHE.move_to_end(data.key)
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)


def clear_cache() -> None:
    """Forget every cached list and name table (tests)."""
    with _LOCK:
        _CACHE.clear()
        _DIMS.clear()


def _dims(cur: Any, db_key: str) -> tuple[Any, int]:
    """The merchants' names (cached per file while the merchants are unchanged) and the name
    column's width."""
    from ecotop.queries.merchant import merchant_dims, merchants_signature

    sig = merchants_signature(cur)
    with _LOCK:
        cached = _DIMS.get(db_key)
    if cached is not None and cached[0] == sig:
        return cached[1], cached[2]
    dims = merchant_dims(cur)
    width = name_width(dims)
    with _LOCK:
        _DIMS[db_key] = (sig, dims, width)
    return dims, width


class MerchantsScreen(EcotopScreen):
    """Every merchant over the range: sortable, filterable, `enter` drills into one."""

    DEFAULT_CSS = """
    MerchantsScreen #merchants-title { height: 1; padding: 0 1; color: $text-muted; }
    MerchantsScreen #merchants-filter { display: none; height: 3; }
    MerchantsScreen.-filtering #merchants-filter { display: block; }
    MerchantsScreen #merchants-empty { display: none; height: 3; content-align: center middle;
                                       color: $text-warning; }
    MerchantsScreen.-empty #merchants-empty { display: block; }
    MerchantsScreen.-empty MerchantTable { display: none; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("s,greater_than_sign", "sort(1)", "Sort", key_display="s/>"),
        Binding("less_than_sign", "sort(-1)", "Sort back", show=False, key_display="<"),
        Binding("I", "invert", "Invert", key_display="I"),
    ]

    @dataclass
    class LoyaltyFetched(Message):
        """The repurchase and member-share columns of a list, computed by the second worker."""

        key: Any
        table: Any
        error: BaseException | None

    def __init__(self) -> None:
        super().__init__()
        self._dirty = False
        self.sort_column = "gmv"
        self.descending = True
        self.filter_text = ""
        self.data: ListData | None = None
        self._order: Any = None  # row numbers of data.table, sorted
        self.rows: Any = None  # the row numbers on screen (sorted, then filtered)
        self._loyalty_for: Any = None
        self._loading: Any = None  # the key of the list computed since the screen opened
        self._title = ""
        self.shown_at: float | None = None  # perf_counter when rows were first shown

    # -- layout ---------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        yield Static("Merchants …", id="merchants-title")
        yield Input(placeholder="filter by name, industry or city", id="merchants-filter")
        yield MerchantTable(id="merchants-table")
        yield Static("no merchants match", id="merchants-empty")
        yield KeyHints()

    def on_mount(self) -> None:
        self.query_one(MerchantTable).focus()
        app = self.ecotop
        try:
            as_of = _as_of_now(app)
        except Exception:
            as_of = None
        cached = None if as_of is None else _cache_get((_db_key(app), app.range_key, as_of))
        if cached is not None:
            self._take(cached)
        elif as_of is not None:
            # Straight away, not after the refresh in flight (the overview's can take a while).
            self._loading = (_db_key(app), app.range_key, as_of)
            self._list_worker(app.range_key, as_of)

    @dataclass
    class ListLoaded(Message):
        """A list computed when the screen opened (outside the refresh cycle)."""

        data: ListData | None
        error: BaseException | None

    @work(thread=True, exclusive=True, exit_on_error=False, group="merchant-list")
    def _list_worker(self, range_key: str, as_of: datetime) -> None:
        data, error = None, None
        try:
            key = _db_key(self.ecotop)
            data = with_cursor(self.gateway, lambda cur: _compute(cur, key, range_key, as_of))
        except Exception as exc:  # the refresh cycle tries again
            error = exc
        self.post_message(self.ListLoaded(data, error))

    def on_merchants_screen_list_loaded(self, message: ListLoaded) -> None:
        message.stop()
        self._loading = None
        if message.error is not None:
            self.ecotop.last_error = f"merchants: {message.error}"
            return
        data = message.data
        if data is not None and (self.data is None or self.data.key != data.key):
            self._take(data)

    # -- the refresh contract -------------------------------------------------------------------

    def fetch(self, cur: Any, ctx: RefreshContext) -> ListData | None:
        as_of = _resolve_as_of(cur, ctx)
        db_key = _db_key(self.ecotop)
        key = (db_key, ctx.range_key, as_of)
        current = self.data
        if (current is not None and current.key == key) or self._loading == key:
            return None  # the same list, or the one being computed since the screen opened
        return _compute(cur, db_key, ctx.range_key, as_of)

    def apply(self, data: ListData | None) -> None:
        if data is None:
            return
        self._take(data)

    def _take(self, data: ListData) -> None:
        self.data = data
        self._resort()
        if not data.loyalty and self._loyalty_for != data.key:
            self._loyalty_for = data.key
            self._loyalty_worker(data.key, data.window)

    @work(thread=True, exclusive=True, exit_on_error=False, group="merchant-loyalty")
    def _loyalty_worker(self, key: Any, win: Any) -> None:
        from ecotop.queries.merchant import merchant_loyalty

        table, error = None, None
        try:
            table = with_cursor(self.gateway, lambda cur: merchant_loyalty(cur, win))
        except Exception as exc:  # shown in the status bar; the columns stay "…"
            error = exc
        self.post_message(self.LoyaltyFetched(key, table, error))

    def on_merchants_screen_loyalty_fetched(self, message: LoyaltyFetched) -> None:
        from ecotop.queries.merchant import with_loyalty

        message.stop()
        if message.error is not None:
            self._loyalty_for = None
            self.ecotop.last_error = f"merchant loyalty: {message.error}"
            return
        data = self.data
        cached = _CACHE.get(message.key)
        merged = None
        if cached is not None and not cached.loyalty:
            cached.table = with_loyalty(cached.table, message.table)
            cached.loyalty = True
            merged = cached
        if data is not None and data.key == message.key:
            if not data.loyalty:
                data.table = with_loyalty(data.table, message.table)
                data.loyalty = True
            if merged is not None and merged is not data:
                _cache_put(data)
            if self.is_current:
                self._resort()
            else:
                self._dirty = True

    def on_screen_resume(self) -> None:
        if self._dirty:
            self._dirty = False
            self._resort()
        super().on_screen_resume()

    # -- sorting and filtering (in memory) ------------------------------------------------------

    @property
    def view(self) -> Any:
        """The merchants on screen as an Arrow table, in order (None until the list arrives)."""
        if self.data is None or self.rows is None:
            return None
        return self.data.table.take(self.rows)

    def _resort(self) -> None:
        from ecotop.queries.merchant import sort_order

        if self.data is None:
            return
        self._order = sort_order(self.data.table, self.sort_column, self.descending)
        self._refilter()

    def _refilter(self) -> None:
        from ecotop.queries.merchant import filter_order

        if self._order is None or self.data is None:
            return
        table = self.query_one(MerchantTable)
        keep = table.merchant_at_cursor()
        self.rows = filter_order(self.data.table, self._order, self.filter_text)
        pending = () if self.data.loyalty else LOYALTY_COLUMNS
        table.show(
            self.data.table,
            self.rows,
            sort=self.sort_column,
            descending=self.descending,
            pending=pending,
            name_cells=self.data.name_cells,
            keep_merchant=keep,
        )
        empty = len(self.rows) == 0
        self.set_class(empty, "-empty")
        if empty:
            msg = (
                f"no merchants match “{self.filter_text}”"
                if self.filter_text.strip()
                else "no merchants in this file"
            )
            self.query_one("#merchants-empty", Static).update(Text(msg))
        self._update_title()
        if self.shown_at is None:
            self.shown_at = time.perf_counter()

    def _update_title(self) -> None:
        data = self.data
        if data is None or self.rows is None:
            return
        total = data.table.num_rows
        parts = [f"Merchants {len(self.rows):,} of {total:,}"]
        arrow = "▼" if self.descending else "▲"
        parts.append(f"sorted by {LABELS[self.sort_column]} {arrow}")
        if self.filter_text.strip():
            parts.append(f"filter “{self.filter_text}”")
        win = data.window
        local = self.ecotop.local
        parts.append(
            f"{win.range} to {local(win.end).strftime('%m-%d %H:%M')}"
            + ("" if data.loyalty else " · computing repurchase…")
        )
        title = self.query_one("#merchants-title", Static)
        text = " · ".join(parts)
        if text != self._title:
            self._title = text
            title.update(Text(text), layout=False)  # one line, fixed height: no layout pass

    # -- keys -----------------------------------------------------------------------------------

    def action_filter(self) -> None:
        self.add_class("-filtering")
        box = self.query_one("#merchants-filter", Input)
        box.focus()

    def set_filter(self, text: str) -> None:
        """Filter the list by `text` as if typed after `/` (the palette's merchant search)."""
        self.action_filter()
        self.query_one("#merchants-filter", Input).value = text

    @on(Input.Changed, "#merchants-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.filter_text = event.value
        self._refilter()

    @on(Input.Submitted, "#merchants-filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        event.stop()
        self._leave_filter()

    def _leave_filter(self) -> None:
        if not self.filter_text:
            self.remove_class("-filtering")
        self.query_one(MerchantTable).focus()

    def action_back(self) -> None:
        """esc undoes one step (k9s, lazygit): leaves the filter box, then clears the filter, then
        leaves the list."""
        box = self.query_one("#merchants-filter", Input)
        if box.has_focus:
            self._leave_filter()
            return
        if self.filter_text:
            box.value = ""  # Input.Changed refilters
            self.filter_text = ""
            self._refilter()
            self.remove_class("-filtering")
            return
        super().action_back()

    def action_sort(self, step: int) -> None:
        i = SORTABLE.index(self.sort_column)
        self.set_sort(SORTABLE[(i + int(step)) % len(SORTABLE)])

    def set_sort(self, column: str, descending: bool | None = None) -> None:
        """Sort by `column`: numbers largest first, text A to Z, unless `descending` says."""
        kind = next(k for c, _, k, _ in COLUMNS if c == column)
        self.sort_column = column
        self.descending = (kind not in ("text", "id")) if descending is None else descending
        self._resort()

    def action_invert(self) -> None:
        self.descending = not self.descending
        self._resort()

    def on_merchant_table_selected(self, event: MerchantTable.Selected) -> None:
        event.stop()
        self.post_message(OpenMerchant(event.merchant_id))


def prefetch(app: Any) -> None:
    """Warm the merchants list in a thread worker of `app`: import what it needs (pyarrow.compute
    and Polars, ~0.5 s the first time) and compute the list of the current range into the cache, so
    the first `m` shows rows at once. For the app to call once it is idle (after its first refresh).
    """
    gateway, key, range_key = app.gateway, _db_key(app), app.range_key
    try:
        as_of = _as_of_now(app)
    except Exception:
        return
    if as_of is None:
        return

    def run() -> None:
        try:
            import polars  # noqa: F401
            import pyarrow.compute  # noqa: F401

            with_cursor(gateway, lambda cur: _compute(cur, key, range_key, as_of))
        except Exception:  # only a warm-up: `m` computes the list itself
            pass

    app.run_worker(
        run, thread=True, exclusive=True, group="merchants-prefetch", exit_on_error=False
    )


def _compute(cur: Any, db_key: str, range_key: str, as_of: datetime) -> ListData:
    """The list of every merchant over the window of `range_key` ending at `as_of` (cached)."""
    from ecotop.queries.merchant import assemble_list, merchant_numbers
    from ecotop.queries.windows import window

    key = (db_key, range_key, as_of)
    cached = _cache_get(key)
    if cached is not None:
        return cached
    t0 = time.perf_counter()
    win = window(range_key, as_of)
    dims, width = _dims(cur, db_key)
    table = assemble_list(dims, merchant_numbers(cur, win))
    data = ListData(key, win, table, width)
    data.elapsed_ms = (time.perf_counter() - t0) * 1000
    _cache_put(data)
    return data


def _db_key(app: Host) -> str:
    return str(app.gateway.path)


def _resolve_as_of(cur: Any, ctx: RefreshContext) -> datetime:
    from ecotop.queries.kpis import resolve_as_of
    from ecotop.queries.windows import live_as_of

    return resolve_as_of(cur, live=ctx.live, now=ctx.now) or live_as_of(ctx.now)


def _as_of_now(app: Host) -> datetime | None:
    """The as_of the next refresh will use (no query: the app knows it, or the clock stands in)."""
    from ecotop.queries.windows import live_as_of

    if app.live:
        return live_as_of(app.clock())
    return app.current_as_of()
