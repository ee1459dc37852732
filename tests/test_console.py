"""Pilot tests of the SQL console (`:`): run, tabs, cancel, history, buffer, export, guard, pins."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import dashboard_data
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest
from textual.coordinate import Coordinate

from ecotop.tui.app import EcotopApp, make_app
from ecotop.tui.history import History
from ecotop.tui.screens.console import ConsoleScreen
from ecotop.tui.widgets.results_tabs import ResultView
from ecotop.tui.widgets.sql_dialogs import ConfirmScreen, ExportScreen, HistoryScreen, PinScreen

FIXED = datetime(2026, 11, 20, 4, 0, 30, tzinfo=UTC)
SLOW = "select count(*) from range(200000) a(x), range(200000) b(y) where (a.x * 31 + b.y) % 7 = 3"


@pytest.fixture(scope="module")
def db_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return dashboard_data.build(tmp_path_factory.mktemp("console") / "console.duckdb")


_APPS: list[EcotopApp] = []


@pytest.fixture(scope="session")
def duck_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("duckdb-tmp")


@pytest.fixture(autouse=True)
def close_apps():
    yield
    while _APPS:
        _APPS.pop().db.close()


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, duck_tmp: Path) -> Path:
    """A private HOME and XDG dirs: history, buffer and config go there."""
    h = tmp_path / "home"
    for var, sub in (
        ("HOME", ""),
        ("XDG_STATE_HOME", ".local/state"),
        ("XDG_CONFIG_HOME", ".config"),
        ("XDG_DATA_HOME", ".local/share"),
    ):
        d = h / sub if sub else h
        d.mkdir(parents=True, exist_ok=True)
        monkeypatch.setenv(var, str(d))
    monkeypatch.delenv("ECOTOP_CONFIG", raising=False)
    # one DuckDB configuration for every test (a file open twice must be opened alike)
    monkeypatch.setenv("ECOTOP_TEMP_DIR", str(duck_tmp))
    monkeypatch.setenv("XDG_CONFIG_DIRS", str(tmp_path / "no-system-config"))
    return h


def app_for(path: Path, **kw) -> EcotopApp:
    kw.setdefault("clock", lambda: FIXED)
    kw.setdefault("rules", ())
    kw.setdefault("refresh_s", 30.0)
    app = make_app(path, **kw)
    _APPS.append(app)
    return app


async def wait_for(pilot, cond, timeout: float = 20.0, what: str = "condition") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not cond():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)


async def open_console(pilot, app: EcotopApp, screen: ConsoleScreen | None = None) -> ConsoleScreen:
    if screen is None:
        await pilot.press("colon")
    else:
        await app.push_screen(screen)
    await wait_for(
        pilot,
        lambda: (
            isinstance(app.screen, ConsoleScreen)
            and app.focused is app.screen.editor
            and app.screen.buffer_ready
        ),
        what="the console",
    )
    return app.screen  # type: ignore[return-value]


async def run_sql(pilot, screen: ConsoleScreen, sql: str, key: str = "ctrl+j") -> None:
    editor = screen.editor
    editor.load_text(sql)
    editor.move_cursor(editor.document.end)
    await pilot.press(key)
    await wait_for(pilot, lambda: screen.job is None, what="the query to finish")
    await pilot.pause()


def error_text(screen: ConsoleScreen) -> str:
    box = screen.query_one("#console-error")
    return str(box.render()) if box.has_class("-shown") else ""


def status_text(screen: ConsoleScreen) -> str:
    return str(screen.query_one("#console-status").render())


# -- running ---------------------------------------------------------------------------------------


@pytest.mark.slow
async def test_type_a_statement_run_it_and_see_the_value(db_path: Path) -> None:
    app = app_for(db_path)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_console(pilot, app)
        screen.editor.load_text("")
        await pilot.press(*"select 40 + 2 as answer")
        await pilot.press("ctrl+j")
        await wait_for(pilot, lambda: screen.job is None and screen.last_results)
        await pilot.pause()
        view = screen.results.current
        assert view is not None
        table = view.data_table
        assert table is not None
        assert table.get_cell_at(Coordinate(0, 0)) == 42
        assert "answer" in str(table.ordered_columns[0].label)
        assert "1 row" in str(view.query_one(".result-footer").render())


async def test_several_statements_give_one_tab_each(db_path: Path) -> None:
    app = app_for(db_path)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_console(pilot, app)
        await run_sql(pilot, screen, "select 1 as a;\nselect 2 as b;\nselect 3 as c", key="f5")
        panes = list(screen.results.query(ResultView))
        assert len(panes) == 3
        values = [v.result.table.to_pylist() for v in screen.results.query(ResultView)]
        assert values == [[{"a": 1}], [{"b": 2}], [{"c": 3}]]
        assert "3 statements" in status_text(screen)


async def test_ctrl_j_runs_the_statement_under_the_cursor_or_the_selection(db_path: Path) -> None:
    app = app_for(db_path)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_console(pilot, app)
        editor = screen.editor
        editor.load_text("select 'first' as s;\nselect 'second' as s;\nselect 'third' as s;")
        editor.move_cursor((1, 3))
        await pilot.press("ctrl+j")
        await wait_for(pilot, lambda: screen.job is None and screen.last_results)
        assert [r.table.to_pylist() for r in screen.last_results] == [[{"s": "second"}]]
        # a selection over the last two statements runs both
        editor.select_all()
        editor.selection = type(editor.selection)((1, 0), (2, 20))
        await pilot.press("ctrl+j")
        await wait_for(pilot, lambda: screen.job is None and len(screen.last_results) == 2)
        assert [r.table.to_pylist()[0]["s"] for r in screen.last_results] == ["second", "third"]


async def test_a_huge_result_shows_the_first_rows_and_says_there_are_more(db_path: Path) -> None:
    app = app_for(db_path)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_console(pilot, app, ConsoleScreen(limit=100))
        await run_sql(pilot, screen, "select * from range(1000000000) t(i)")
        r = screen.last_results[0]
        assert r.rows == 100 and r.truncated
        footer = str(screen.results.current.query_one(".result-footer").render())
        assert "100 of more rows" in footer


async def test_instants_show_in_the_display_zone_with_column_types(db_path: Path) -> None:
    app = app_for(db_path)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_console(pilot, app)
        await run_sql(pilot, screen, "select TIMESTAMPTZ '2026-11-20 04:00:00+00' as t, 1.5 as d")
        table = screen.results.current.data_table
        shown = table.get_cell_at(Coordinate(0, 0))
        assert (shown.hour, str(shown.tzinfo)) == (12, "Asia/Shanghai")
        labels = [str(c.label) for c in table.ordered_columns]
        assert labels == ["t timestamptz", "d dec(2,1)"]
        # the result keeps the instant as DuckDB gave it (export writes it unchanged)
        assert screen.last_results[0].table.column("t")[0].as_py().hour == 4


async def test_errors_show_inline_with_a_caret_and_the_cursor_at_the_spot(db_path: Path) -> None:
    app = app_for(db_path)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_console(pilot, app)
        await run_sql(pilot, screen, "select 1;\nselect nosuch_column\nfrom transactions")
        text = error_text(screen)
        assert "nosuch_column" in text and "line 1, column 8" in text
        lines = text.splitlines()
        caret_line = next(line for line in lines if "^" in line)
        code_line = lines[lines.index(caret_line) - 1]
        assert code_line[caret_line.index("^") :].startswith("nosuch_column")
        # the editor points at the same place (row 1 of the buffer, column 7)
        assert screen.editor.selection.start == (1, 7)
        assert screen.editor.selected_text.startswith("n")


@pytest.mark.slow
async def test_single_letter_keys_never_fire_while_typing(db_path: Path) -> None:
    app = app_for(db_path)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_console(pilot, app)
        screen.editor.load_text("")
        range_before = app.range_key
        await pilot.press(*"q1mpta?r/e+-:")
        await pilot.pause()
        assert app.is_running and app.return_code is None
        assert app.screen is screen
        assert screen.editor.text == "q1mpta?r/e+-:"
        assert app.range_key == range_before
        assert app.paused is False


# -- cancel ----------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("key", ["escape", "ctrl+c"])
async def test_a_slow_query_can_be_cancelled_and_control_returns(db_path: Path, key: str) -> None:
    app = app_for(db_path, refresh_s=0.1)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_console(pilot, app)
        screen.editor.load_text(SLOW)
        await pilot.press("ctrl+j")
        await wait_for(pilot, lambda: screen.job is not None and screen.job.cursor is not None)
        # the dashboard under the console keeps refreshing while the query runs
        refreshed = app.refresh_count
        await wait_for(pilot, lambda: app.refresh_count >= refreshed + 2, what="refreshes")
        assert screen.job is not None, "the slow query finished before it could be cancelled"
        assert "running" in status_text(screen)
        # elapsed time always; a progress bar only when DuckDB reports one (1.5's query_progress()
        # answers -1, "unknown", for most running statements, so it is not waited for)
        await wait_for(
            pilot, lambda: re.search(r"running · \d+\.\d s", status_text(screen)), what="elapsed"
        )
        await pilot.press(key)
        assert screen.job is None
        assert "cancelled" in status_text(screen)
        assert app.screen is screen  # esc cancelled; it did not leave the console
        # the interrupted worker ends, and the next statement runs normally
        await wait_for(pilot, lambda: not [w for w in app.workers if w.group == "console-query"])
        await run_sql(pilot, screen, "select 7 as seven")
        assert screen.last_results[-1].table.to_pylist() == [{"seven": 7}]


async def test_ctrl_c_copies_when_nothing_runs(db_path: Path) -> None:
    app = app_for(db_path)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_console(pilot, app)
        await run_sql(pilot, screen, "select 'hello' as greeting, 5 as n")
        screen.editor.select_all()
        await pilot.press("ctrl+c")
        assert app.clipboard == "select 'hello' as greeting, 5 as n"
        table = screen.results.current.data_table
        table.focus()
        await pilot.pause()
        await pilot.press("ctrl+c")
        assert app.clipboard == "hello"
        await pilot.press("shift+right", "ctrl+c")
        assert app.clipboard == "hello\t5"


@pytest.mark.slow
async def test_enter_on_a_cell_shows_its_whole_value(db_path: Path) -> None:
    from ecotop.tui.widgets.sql_dialogs import CellScreen

    long = "x" * 300
    app = app_for(db_path)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_console(pilot, app)
        await run_sql(pilot, screen, f"select 1 as n, '{long}' as long_text, [1, 2] as l")
        table = screen.results.current.data_table
        table.focus()
        await pilot.press("right", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, CellScreen))
        assert app.screen.text == long
        await pilot.press("ctrl+c")
        assert app.clipboard == long
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)
        await pilot.press("right", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, CellScreen))
        assert app.screen.text == "[\n  1,\n  2\n]"


# -- history and buffer ----------------------------------------------------------------------------


@pytest.mark.slow
async def test_history_is_kept_across_restarts_with_time_and_rows(db_path: Path) -> None:
    app = app_for(db_path)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_console(pilot, app)
        await run_sql(pilot, screen, "select count(*) as n from transactions")
        await run_sql(pilot, screen, "select 1 as one")
        await run_sql(pilot, screen, "select nosuch")
    entries = History().entries()
    assert [e.sql for e in entries] == [
        "select count(*) as n from transactions",
        "select 1 as one",
        "select nosuch",
    ]
    assert entries[0].rows == 1 and entries[0].elapsed_ms is not None
    assert entries[2].error is not None and entries[2].rows is None
    assert History().path.stat().st_mode & 0o077 == 0  # only the user may read it

    app = app_for(db_path)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_console(pilot, app)
        screen.editor.load_text("")
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: isinstance(app.screen, HistoryScreen))
        assert len(app.screen.shown) == 3
        await pilot.press(*"count")
        await pilot.pause()
        assert len(app.screen.shown) == 1
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is screen)
        assert screen.editor.text == "select count(*) as n from transactions;"


@pytest.mark.slow
async def test_the_last_buffer_comes_back_on_the_next_start(db_path: Path) -> None:
    app = app_for(db_path)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_console(pilot, app)
        screen.editor.load_text("")
        await pilot.press(*"select 'kept' as k")
        await pilot.press("escape")  # back to the dashboard: the buffer is saved
        await pilot.pause()
        assert not isinstance(app.screen, ConsoleScreen)
    app = app_for(db_path)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_console(pilot, app)
        assert screen.editor.text == "select 'kept' as k"


# -- completion and catalog ------------------------------------------------------------------------


@pytest.mark.slow
async def test_completion_offers_tables_and_columns_and_keys_drive_it(db_path: Path) -> None:
    app = app_for(db_path)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_console(pilot, app)
        await wait_for(pilot, lambda: screen.editor.completer.catalog.loaded, what="catalog")
        editor = screen.editor
        editor.load_text("")
        await pilot.press(*"select * from transa")
        await pilot.pause()
        assert editor.menu_shown
        assert editor._menu.chosen.text == "transactions"
        await pilot.press("tab")
        assert editor.text == "select * from transactions"
        assert not editor.menu_shown
        await pilot.press(*" t where t.amo")
        await pilot.pause()
        assert editor.menu_shown and editor._menu.chosen.text == "amount"
        await pilot.press("enter")
        assert editor.text == "select * from transactions t where t.amount"
        await pilot.press(*" sel")
        await pilot.pause()
        assert editor.menu_shown
        await pilot.press("escape")
        assert not editor.menu_shown and app.screen is screen
        assert editor.text.endswith(" sel")


async def test_catalog_sidebar_lists_tables_with_typed_columns(db_path: Path) -> None:
    from ecotop.tui.widgets.catalog import CatalogTree

    app = app_for(db_path)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_console(pilot, app)
        await wait_for(pilot, lambda: screen.editor.completer.catalog.loaded, what="catalog")
        await pilot.press("ctrl+b")
        tree = screen.query_one(CatalogTree)
        assert tree.display and app.focused is tree
        tables = {str(n.data): n for n in tree.root.children}
        assert "transactions" in tables
        cols = [str(c.label) for c in tables["transactions"].children]
        assert any(c.startswith("amount") and "decimal(18,2)" in c for c in cols)
        # enter on a table puts its name in the editor
        screen.editor.load_text("select * from ")
        screen.editor.move_cursor(screen.editor.document.end)
        tree.move_cursor(tables["transactions"])
        await pilot.press("enter")
        assert screen.editor.text == "select * from transactions"


# -- export ----------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("suffix", ["csv", "parquet", "json", "jsonl"])
async def test_export_reruns_the_statement_unlimited_into_a_file(
    db_path: Path, tmp_path: Path, suffix: str
) -> None:
    sql = "select tx_id, ts, amount, entry, refunded_at from transactions order by tx_id"
    from ecotop.store import open_db

    db = open_db(db_path)
    try:
        expected = db.cursor().sql(sql).to_arrow_table()
    finally:
        db.close()
    out = tmp_path / f"result.{suffix}"
    app = app_for(db_path)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_console(pilot, app, ConsoleScreen(limit=25))
        await run_sql(pilot, screen, sql)
        assert screen.last_results[0].rows == 25 and screen.last_results[0].truncated
        screen.results.current.data_table.focus()
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, ExportScreen))
        app.screen.query_one("Input").value = str(out)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is screen and screen.job is None)
        await wait_for(pilot, out.exists, what="the export")
        assert "exported 360 rows" in status_text(screen)
    assert not list(tmp_path.glob(".*partial"))
    if suffix == "parquet":
        got = pq.read_table(out)
        assert got.equals(expected)
    elif suffix == "csv":
        got = pcsv.read_csv(out)
        assert got.column("tx_id").to_pylist() == expected.column("tx_id").to_pylist()
        assert [Decimal(str(v)) for v in got.column("amount").to_pylist()] == expected.column(
            "amount"
        ).to_pylist()
    else:
        text = out.read_text()
        if suffix == "json":
            rows = json.loads(text, parse_float=Decimal)
        else:
            rows = [json.loads(line, parse_float=Decimal) for line in text.splitlines()]
        assert [r["tx_id"] for r in rows] == expected.column("tx_id").to_pylist()
        assert [r["amount"] for r in rows] == expected.column("amount").to_pylist()
        assert rows[0]["refunded_at"] is None
        assert datetime.fromisoformat(rows[0]["ts"]) == expected.column("ts")[0].as_py()


async def test_export_asks_before_replacing_a_file(db_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "taken.csv"
    out.write_text("keep me\n")
    app = app_for(db_path)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_console(pilot, app)
        await run_sql(pilot, screen, "select 1 as x")
        screen.results.current.data_table.focus()
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, ExportScreen))
        app.screen.query_one("Input").value = str(out)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ExportScreen)
        assert "already exists" in str(app.screen.query_one("#export-error").render())
        assert out.read_text() == "keep me\n"
        await pilot.press("enter")  # the second enter replaces it
        await wait_for(pilot, lambda: app.screen is screen and screen.job is None)
        await wait_for(pilot, lambda: out.read_text() != "keep me\n", what="the export")
    assert pcsv.read_csv(out).to_pylist() == [{"x": 1}]


# -- safety ----------------------------------------------------------------------------------------

REFUSED = [
    "delete from transactions",
    "update transactions set amount = 0",
    "insert into merchants values (99, 'x', 'food', 'a', 'b', 1.0, now())",
    "drop table users",
    "create table t as select 1",
    "copy transactions to '{out}'",
    "attach '{out}.db' as other",
    "set threads = 1",
    "pragma threads = 1",
    "select * from read_csv('/etc/passwd')",
    "select * from '/etc/passwd'",
    "explain analyze insert into merchants values (98, 'x', 'food', 'a', 'b', 1.0, now())",
    "with d as (delete from transactions returning *) select count(*) from d",
    "select nextval('seq')",
    "load httpfs",
    "checkpoint",
]


def _fingerprint(cur) -> tuple:
    return (
        cur.execute("select count(*), sum(amount) from transactions").fetchall()[0],
        cur.execute("select count(*) from merchants").fetchall()[0],
        cur.execute("select count(*) from duckdb_tables()").fetchall()[0],
        cur.execute("select current_setting('threads')").fetchall()[0],
    )


async def _try_refused(pilot, app: EcotopApp, tmp_path: Path) -> None:
    screen = await open_console(pilot, app)
    cur = app.db.cursor()
    before = _fingerprint(cur)
    out = tmp_path / "stolen.csv"
    for sql in REFUSED:
        text = sql.format(out=out)
        await run_sql(pilot, screen, text)
        shown = error_text(screen)
        assert "refused" in shown, (text, shown)
        assert not screen.last_results or screen.last_results[0].sql != text
    # a refusal in a batch runs nothing of it
    await run_sql(pilot, screen, "select 1 as fine; delete from transactions", key="f5")
    assert "refused" in error_text(screen)
    assert _fingerprint(cur) == before
    assert not out.exists() and not Path(f"{out}.db").exists()
    cur.close()


@pytest.mark.slow
async def test_every_refused_statement_says_why_and_changes_nothing(
    db_path: Path, tmp_path: Path
) -> None:
    app = app_for(db_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await _try_refused(pilot, app, tmp_path)


@pytest.mark.slow
async def test_refused_also_when_this_process_holds_the_file_for_writing(
    db_path: Path, tmp_path: Path
) -> None:
    from ecotop.store import open_db

    copy = tmp_path / "writable.duckdb"
    copy.write_bytes(db_path.read_bytes())
    db = open_db(copy, write=True)
    assert not db.read_only
    from ecotop.queries.gateway import LocalGateway

    app = EcotopApp(LocalGateway(db), rules=(), refresh_s=30.0, clock=lambda: FIXED, watchdog=False)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await _try_refused(pilot, app, tmp_path)
            assert "live" in str(app.screen.query_one("#console-title").render())
    finally:
        db.close()


# -- pinned panels ---------------------------------------------------------------------------------


@pytest.mark.slow
async def test_a_pinned_query_survives_a_restart_and_can_be_removed(db_path: Path) -> None:
    from ecotop.tui import config
    from ecotop.tui.widgets.pinned import PinnedPanel

    app = app_for(db_path)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_console(pilot, app)
        screen.editor.load_text(
            "select count(*) as paid from transactions where status = 'success'"
        )
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, PinScreen))
        pin = app.screen
        pin.query_one("#pin-name").value = "paid payments"
        pin.query_one("RadioSet").query("RadioButton")[1].value = True  # number with trend
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is screen)
    panels = config.panels_in(config.user_file())
    assert [(p.name, p.kind) for p in panels] == [("paid payments", "number")]

    app = app_for(db_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: list(app.screen.query(PinnedPanel)), what="the panel")
        panel = app.screen.query_one(PinnedPanel)
        await wait_for(pilot, lambda: panel.result is not None, what="its data")
        assert panel.result.error is None
        assert panel.result.table.to_pylist() == [{"paid": 324}]
        assert "324" in str(panel.query_one(".pinned-value").render())
        panel.focus()
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: not list(app.screen.query(PinnedPanel)))
    assert config.panels_in(config.user_file()) == []


@pytest.mark.slow
async def test_pinned_kinds_draw_and_bad_or_slow_pins_only_fail_themselves(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ecotop.tui import config, pins
    from ecotop.tui.widgets import pinned

    monkeypatch.setattr(pins, "PIN_TIMEOUT_S", 0.5)
    path = config.user_file()
    for name, sql, kind in [
        (
            "by entry",
            "select entry, count(*) as n from transactions group by 1 order by 1",
            "table",
        ),
        (
            "per hour",
            "select date_trunc('hour', ts) as h, count(*) from transactions group by 1 order by 1",
            "chart",
        ),
        ("total", "select count(*) from transactions", "number"),
        ("bad", "delete from transactions", "table"),
        ("slow", SLOW, "number"),
    ]:
        config.add_panel(path, config.Panel(name, sql, kind))
    app = app_for(db_path)
    async with app.run_test(size=(160, 48)) as pilot:

        def drawn() -> dict[str, pinned.PinnedPanel]:
            found = {p.panel_name: p for p in app.screen.query(pinned.PinnedPanel)}
            return found if all(p.result is not None for p in found.values()) else {}

        await wait_for(pilot, lambda: len(drawn()) == 5, what="five pinned panels")
        await pilot.pause()
        panels = drawn()
        screen_text = app.export_screenshot().replace("&#160;", " ")
        assert "mini_program" in screen_text and "by entry" in screen_text
        caption = str(panels["per hour"].query_one(".pinned-caption").render())
        assert "last" in caption and "…" in caption
        assert "360" in str(panels["total"].query_one(".pinned-value").render())
        assert "refused" in panels["bad"].result.error
        assert "took longer than 0.5 s" in panels["slow"].result.error
        assert panels["slow"].has_class("-error") and not panels["total"].has_class("-error")
        cur = app.db.cursor()
        assert cur.execute("select count(*) from transactions").fetchall() == [(360,)]
        cur.close()


@pytest.mark.slow
async def test_pin_from_the_command_palette(db_path: Path) -> None:
    from textual.command import CommandPalette

    app = app_for(db_path)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_console(pilot, app)
        screen.editor.load_text("select count(*) from merchants")
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"pin query")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, PinScreen), what="the pin dialog")
        assert app.screen.query_one("#pin-name").value == "merchants"
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)


async def test_pinning_refuses_what_the_guard_refuses(db_path: Path) -> None:
    from ecotop.tui import config

    app = app_for(db_path)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_console(pilot, app)
        screen.editor.load_text("delete from transactions")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is screen
        assert "refused" in error_text(screen)
    assert not config.user_file().exists()


# -- screenshots -----------------------------------------------------------------------------------


def _snapshot_app(db_path: Path) -> EcotopApp:
    return app_for(db_path, show_timing=False)


async def _console_with_result(pilot) -> None:
    app = pilot.app
    screen = await open_console(pilot, app)
    screen.editor.cursor_blink = False
    await wait_for(pilot, lambda: screen.editor.language == "sql", what="highlighting")
    await run_sql(
        pilot,
        screen,
        "-- paid GMV by entry\nselect entry, count(*) as payments, sum(amount) as gmv\n"
        "from transactions\nwhere status = 'success'\ngroup by entry\norder by gmv desc;",
    )
    await pilot.pause()


@pytest.mark.slow
@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
def test_console_snapshot(snap_compare, db_path: Path, size: tuple[int, int]) -> None:
    assert snap_compare(_snapshot_app(db_path), terminal_size=size, run_before=_console_with_result)


# -- the results table's plain-cell path ---------------------------------------------------------


def _cells(lines) -> list[tuple[str, object]]:
    return [(ch, seg.style) for line in lines for seg in line for ch in seg.text]


async def test_plain_cells_draw_exactly_like_the_widget_would() -> None:
    from datetime import date, time
    from decimal import Decimal as D

    import pyarrow as pa
    from rich.style import Style
    from textual.app import App
    from textual_fastdatatable import DataTable

    from ecotop.tui.widgets.results_tabs import ResultData

    table = pa.table(
        {
            "s": [
                "short",
                "x" * 80,
                "中文字符很长很长很长很长很长很长很长很长很长很长",
                "[red]no[/]",
                "",
            ],
            "i": [1, -2, 123456789, 0, 7],
            "f": [1.5, -0.25, 1e20, 3.0, float("inf")],
            "d": pa.array(
                [D("1.10"), D("-2.00"), D("123456.78"), D("0"), D("9.99")], pa.decimal128(18, 2)
            ),
            "t": [datetime(2026, 1, 1, 12, 0, tzinfo=UTC)] * 5,
            "dt": [date(2026, 1, 1)] * 5,
            "tm": [time(12, 30)] * 5,
        }
    )

    class Host(App):
        def compose(self):
            yield ResultView(ResultData(0, "select", table=table))

    app = Host()
    async with app.run_test(size=(200, 20)) as pilot:
        await pilot.pause()
        grid = app.query_one(ResultView).data_table
        assert type(grid).__name__ == "ResultTable"
        from ecotop.tui.widgets import results_tabs

        plain = results_tabs.plain_cell
        hits: list[object] = []
        results_tabs.plain_cell = lambda v, c=None: hits.append(v) or plain(v, c)
        checked = 0
        for row in range(table.num_rows):
            for col, column in enumerate(grid.ordered_columns):
                for width in (column.render_width, 7):
                    for cursor, in_range in ((False, False), (True, False), (False, True)):
                        args = (row, col, Style(bgcolor="black"), width)
                        grid._cell_render_cache.clear()
                        fast = grid._render_cell(*args, cursor=cursor, in_range=in_range)
                        grid._cell_render_cache.clear()
                        slow = DataTable._render_cell(grid, *args, cursor=cursor, in_range=in_range)
                        assert _cells(fast) == _cells(slow), (row, col, width, cursor, in_range)
                        checked += 1
        results_tabs.plain_cell = plain
        assert checked == table.num_rows * table.num_columns * 6
        assert len(hits) == checked  # every cell went through the plain path's check
        assert sum(plain(v) is not None for v in hits) >= checked - 6  # "" and inf aside
