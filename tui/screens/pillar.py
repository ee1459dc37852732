"""A pillar view (keys 1-7): its measures, charts over the range, breakdowns and top-N tables.

Data: `queries.kpis` (the measures) and `queries.views.pillar_view` (series, breakdowns, tops), in
the refresh worker. `enter` on a row with a merchant opens that merchant; `/` filters the tables;
`e` writes the focused table to a CSV file; `esc` returns to the overview.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Input, Static

from ecotop.queries.gateway import Cursor
from ecotop.tui.screens.base import EcotopScreen, OpenMerchant, RefreshContext
from ecotop.tui.widgets.charts import ArrowTable, ChartBox, heading, heatmap_lines
from ecotop.tui.widgets.footer import KeyHints
from ecotop.tui.widgets.kpi import tile_state
from ecotop.tui.widgets.panel import PillarPanel
from ecotop.tui.widgets.status import StatusBar

#: The series each pillar charts (column of `<pillar>/series`, title), most telling first.
CHARTS: dict[str, list[tuple[str, str]]] = {
    "messaging": [
        ("sessions", "app sessions"),
        ("messages", "messages"),
        ("video_call_minutes", "video-call minutes"),
        ("moments_views", "Moments views"),
    ],
    "official_accounts": [
        ("reads", "article reads"),
        ("net_followers", "net followers"),
        ("shares", "shares"),
        ("articles", "articles pushed"),
    ],
    "mini_programs": [
        ("gmv", "GMV (¥)"),
        ("orders", "orders"),
        ("visits", "visits"),
        ("aov", "AOV (¥)"),
    ],
    "pay": [
        ("tpm", "transactions / min"),
        ("gmv", "GMV (¥)"),
        ("success_rate", "success rate"),
        ("refunded", "refunded (¥)"),
    ],
    "pay_score": [
        ("orders", "orders"),
        ("deposits_waived", "deposits waived (¥)"),
        ("collection_rate_d0", "collected day 0"),
        ("completed", "completed"),
    ],
    "wecom": [
        ("contacts_added", "contacts added"),
        ("net_contacts", "net contacts"),
        ("message_reach", "message reach"),
        ("group_joins", "group joins"),
    ],
    "channels": [
        ("views", "views"),
        ("live_gmv", "live GMV (¥)"),
        ("completion_rate", "completion rate"),
        ("lives_started", "lives started"),
    ],
}
#: Columns the tables leave out (ids people do not read; merchant_id stays for drill-down).
HIDDEN = ("i", "lo", "account_id", "mp_id", "corp_id", "channel_id", "live_id")
TITLES = {
    "heatmap": "activity by weekday and hour (local)",
    "merchants": "top merchants (enter: open)",
    "accounts": "top Official Accounts",
    "mini_programs": "top Mini Programs",
    "enterprises": "top WeCom enterprises",
    "channels": "top channels",
    "lives": "top live sessions",
}


@dataclass
class PillarPageData:
    kpis: Any  # queries.KpiSet
    view: Any  # queries.views.PillarData


class FilterInput(Input):
    """The `/` filter: typing narrows every table; enter keeps it, esc clears it."""

    BINDINGS: ClassVar = [Binding("escape", "clear", "Clear filter")]

    def action_clear(self) -> None:
        self.value = ""
        self.display = False
        self.screen.focus_next()


class PillarScreen(EcotopScreen):
    """One pillar in detail."""

    BINDINGS: ClassVar = [
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("e", "export", "Export table"),
    ]
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-medium"), (160, "-wide")]

    DEFAULT_CSS = """
    PillarScreen #pillar-body { height: 1fr; }
    PillarScreen #pillar-head { height: auto; }
    PillarScreen #pillar-head > PillarPanel { width: 46; height: auto; }
    PillarScreen.-narrow #pillar-head { layout: vertical; }
    PillarScreen.-narrow #pillar-head > PillarPanel { width: 1fr; }
    PillarScreen #pillar-charts { grid-size: 2; grid-gutter: 0 1; height: 22; grid-rows: 11; }
    PillarScreen.-narrow #pillar-charts { grid-size: 1; grid-rows: 10; height: 20; }
    PillarScreen.-narrow #pillar-charts > ChartBox.-extra { display: none; }
    PillarScreen #pillar-tables { height: auto; layout: vertical; }
    PillarScreen.-wide #pillar-tables { layout: grid; grid-size: 2; grid-gutter: 0 1; grid-rows: auto; }
    PillarScreen .table-box { height: auto; border: round $panel-lighten-2; }
    PillarScreen .table-box:focus-within { border: round $accent; }
    PillarScreen #filter { dock: bottom; display: none; }
    PillarScreen .heatmap { height: auto; padding: 0 1; }
    """

    def __init__(self, pillar: str) -> None:
        super().__init__()
        self.pillar = pillar
        self._boxes: dict[str, Any] = {}

    def compose(self) -> ComposeResult:
        from ecotop.queries import PILLARS
        from ecotop.queries.measures import for_pillar
        from ecotop.queries.views import PILLAR_VIEWS

        yield StatusBar(id="status")
        n = list(PILLARS).index(self.pillar) + 1
        with VerticalScroll(id="pillar-body"):
            with Horizontal(id="pillar-head"):
                yield PillarPanel(
                    self.pillar,
                    PILLARS[self.pillar],
                    n,
                    for_pillar(self.pillar),
                    chart=False,
                    id="pillar-kpis",
                )
                with Grid(id="pillar-charts"):
                    for i, (col, label) in enumerate(CHARTS.get(self.pillar, [])):
                        yield ChartBox(
                            col, label, id=f"chart-{col}", classes="-extra" if i >= 2 else ""
                        )
            spec = PILLAR_VIEWS.get(self.pillar, {"breakdowns": {}, "tops": {}})
            with Vertical(id="pillar-tables"):
                for key in [*spec["tops"], *spec["breakdowns"]]:
                    box = Vertical(classes="table-box", id=f"box-{key}")
                    box.border_title = TITLES.get(key, heading(key).replace(" by ", " by "))
                    with box:
                        if key == "heatmap":
                            yield Static("", classes="heatmap", id="heatmap")
                        else:
                            yield ArrowTable(key, hide=HIDDEN, id=f"table-{key}")
        yield FilterInput(placeholder="filter the tables (esc clears)", id="filter")
        yield KeyHints()

    def on_mount(self) -> None:
        # The first table owns the keys from the start (#11.6): enter opens its row and Down moves
        # its cursor, without Tab first; focusing must not scroll the measures off the screen.
        tables = list(self.query(ArrowTable))
        if tables:
            self.set_focus(tables[0], scroll_visible=False)

    # -- refresh ---------------------------------------------------------------------------------

    _heatmap_text: str | None = None

    def cache_key(self, ctx: RefreshContext) -> Any:
        return (ctx.range_key, ctx.baseline)

    def fetch(self, cur: Cursor, ctx: RefreshContext) -> PillarPageData:
        from ecotop.queries import kpis
        from ecotop.queries.views import pillar_view

        ks = kpis(cur, ctx.range_key, live=ctx.live, now=ctx.now, baseline=ctx.baseline)
        zone = self.ecotop.display_zone.key
        view = pillar_view(cur, self.pillar, ks.window, zone=zone)
        return PillarPageData(ks, view)

    def received(self, data: PillarPageData) -> None:
        if data is not None and not self.ecotop.live:
            self.ecotop.data_as_of = data.kpis.as_of

    def apply(self, data: PillarPageData) -> None:
        app = self.ecotop
        zone = app.display_zone
        measures = data.kpis.pillars.get(self.pillar, {})
        panel = self.query_one(PillarPanel)
        states = {}
        for m in panel.measures:
            if m.key in measures:
                states[m.id] = tile_state(measures[m.key], app.firing_for(m.id))
        panel.show(states)
        series = data.view.series
        cols = set(series.column_names)
        xs = series.column("bucket").to_pylist() if "bucket" in cols else []
        long = data.kpis.window.length > timedelta(hours=24)
        for chart in self.query(ChartBox):
            if chart.column in cols:
                chart.show(xs, series.column(chart.column).to_pylist(), zone=zone, long=long)
        for key, table in [*data.view.tops.items(), *data.view.breakdowns.items()]:
            if key == "heatmap":
                text = "\n".join(heatmap_lines(table.to_pylist()))
                if self._heatmap_text != text:  # unchanged text: nothing sent to the terminal
                    self._heatmap_text = text
                    self.query_one("#heatmap", Static).update(text)
                continue
            for t in self.query(f"#table-{key}").results(ArrowTable):
                t.show(table, zone)

    # -- keys ------------------------------------------------------------------------------------

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        table = event.data_table
        if not isinstance(table, ArrowTable):
            return
        row = table.row_data(event.row_key)
        merchant = (row or {}).get("merchant_id")
        if merchant is None:
            self.notify("this row has no merchant to open", timeout=2)
            return
        self.post_message(OpenMerchant(int(merchant)))

    def action_filter(self) -> None:
        box = self.query_one(FilterInput)
        box.display = True
        box.focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        for t in self.query(ArrowTable):
            t.set_filter(event.value)

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        tables = list(self.query(ArrowTable))
        if tables:
            tables[0].focus()

    def action_export(self) -> None:
        """Ask where to write the focused table (or the first), like the console's `e`: a default
        name stamped in the display zone, the format from the suffix; written off the UI thread,
        then it says where."""
        focused = self.focused if isinstance(self.focused, ArrowTable) else None
        tables = [focused] if focused else list(self.query(ArrowTable))
        data = self.last_data
        if not tables or data is None:
            self.notify("nothing to export yet", timeout=2)
            return
        key = tables[0].key
        table = data.view.tops.get(key) or data.view.breakdowns.get(key)
        if table is None:
            self.notify("nothing to export yet", timeout=2)
            return
        from ecotop.tui import export
        from ecotop.tui.widgets.format import plural
        from ecotop.tui.widgets.sql_dialogs import ExportScreen

        stamp = self.ecotop.local(data.kpis.as_of).strftime("%Y%m%d-%H%M")
        name = f"ecotop-{self.pillar}-{key}-{data.kpis.window.range}-{stamp}.csv"
        default = str(Path.cwd() / name)

        def validate(path: str, overwrite: bool) -> str | None:
            try:
                export.format_for(path)
                export.check_path(path, overwrite=overwrite)
            except export.ExportError as exc:
                return str(exc)
            return None

        def write() -> None:
            try:
                rows = export.write(table.to_batches(), table.schema, chosen_path[0])
            except Exception as exc:  # a full disk or a read-only directory: say so, keep running
                self.app.call_from_thread(self.notify, f"export failed: {exc}", severity="error")
                return
            said = f"wrote {plural(rows, 'row')} to {chosen_path[0]}"
            self.app.call_from_thread(self.notify, said, timeout=4)

        chosen_path: list[Path] = []

        def chosen(path: str | None) -> None:
            if not path:
                return
            chosen_path.append(Path(path).expanduser())
            self.run_worker(write, thread=True, group="pillar-export", exit_on_error=False)

        title = f"Export the table '{heading(key)}' ({plural(len(table), 'row')})"
        self.app.push_screen(ExportScreen(default, validate, title=title), chosen)
