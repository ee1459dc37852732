"""Issue #11: what an operator finds out from inside the dashboard (Pilot): `?` on every screen, the
keys it lists, and the rendered text of each screen."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import dashboard_data
import pytest

from ecotop.tui.app import EcotopApp, make_app

FIXED = datetime(2026, 11, 20, 4, 0, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def tiny_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return dashboard_data.build(tmp_path_factory.mktemp("keys") / "tiny.duckdb")


def app_for(path: Path, **kw) -> EcotopApp:
    kw.setdefault("clock", lambda: FIXED)
    kw.setdefault("rules", ())
    kw.setdefault("refresh_s", 30.0)
    return make_app(path, **kw)


async def until(pilot, cond, timeout: float = 30.0) -> None:
    """Wait until `cond()` holds (the refresh runs in a worker; a loaded machine is slow)."""
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not cond():
        assert loop.time() < deadline, "condition not met in time"
        await pilot.pause(0.05)
    await pilot.pause()


def screen_lines(app: EcotopApp) -> list[str]:
    """What the terminal shows of the top screen, line by line."""
    return [strip.text for strip in app.screen._compositor.render_strips()]


async def test_help_first_page_at_80x24_names_the_main_keys(tiny_db: Path) -> None:
    """Point 2: `?` drew an empty 4x2 box; its first page must name the main keys in words."""
    from ecotop.tui.screens.help import HelpScreen

    app = app_for(tiny_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.3)
        await pilot.press("question_mark")
        await pilot.pause(0.2)
        assert isinstance(app.screen, HelpScreen)
        box = app.screen.query_one("#help-box")
        assert box.region.width >= 60 and box.region.height >= 18, box.region
        text = "\n".join(screen_lines(app)).lower()
        for words in (
            "quit",
            "merchants",
            "sql console",
            "alerts",
            "time range",
            "pause",
            "refresh",
        ):
            assert words in text, (words, text)
        await pilot.press("question_mark")
        assert not isinstance(app.screen, HelpScreen)


@pytest.mark.slow
async def test_help_scrolls_and_esc_closes(tiny_db: Path) -> None:
    from ecotop.tui.screens.help import HelpScreen

    app = app_for(tiny_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.3)
        await pilot.press("m")  # the merchant list adds its own keys: the help gets longer
        await pilot.pause(0.5)
        await pilot.press("question_mark")
        await pilot.pause(0.2)
        box = app.screen.query_one("#help-box")
        assert box.max_scroll_y > 0
        await pilot.press("pagedown")
        await pilot.pause(0.1)
        assert box.scroll_y > 0
        text = "\n".join(screen_lines(app)).lower()
        assert "sort" in text  # the list's own keys, further down
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


@pytest.mark.slow
async def test_help_is_context_sensitive(tiny_db: Path) -> None:
    """On the merchant list, `?` lists its sort keys; on the overview it does not."""
    from ecotop.tui.screens.help import HelpScreen

    app = app_for(tiny_db)
    async with app.run_test(size=(120, 60)) as pilot:
        await pilot.pause(0.3)
        await pilot.press("question_mark")
        await pilot.pause(0.2)
        overview = "\n".join(screen_lines(app)).lower()
        await pilot.press("escape")
        await pilot.press("m")
        await pilot.pause(0.5)
        await pilot.press("question_mark")
        await pilot.pause(0.2)
        assert isinstance(app.screen, HelpScreen)
        merchants = "\n".join(screen_lines(app)).lower()
        assert "invert" in merchants and "invert" not in overview


@pytest.mark.parametrize(
    ("column", "values", "forbidden"),
    [
        ("lives_started", [0, 1, 0, 1, 0, 0, 1], "."),  # no `0.33` lives
        ("net_followers", [0, -1, 1, 0, -1, 2, 0], "."),  # no `-2.5` net followers
        ("success_rate", [0.9931, 0.9951, 0.9942, 0.9960], "0.99"),  # in % as the tile
    ],
)
async def test_chart_axes_read_as_their_tiles(column: str, values: list, forbidden: str) -> None:
    """Counts on whole-number axes, rates in percent (#11 charts)."""
    import re
    from datetime import timedelta

    from textual.app import App

    from ecotop.tui.widgets.charts import ChartBox

    class One(App[None]):
        def compose(self):
            yield ChartBox(column, column, id="c")

    app = One()
    async with app.run_test(size=(60, 16)) as pilot:
        box = app.query_one(ChartBox)
        xs = [FIXED + timedelta(minutes=2 * i) for i in range(len(values))]
        box.show(xs, values, zone=UTC, long=False)
        await pilot.pause(0.3)
        lines = screen_lines(app)
        labels = [m.group(1) for ln in lines if (m := re.match(r"^\s*(-?[\d.,KM]+)\s*┤", ln))]
        assert len(labels) >= 2, lines
        assert not any(forbidden in lab for lab in labels), labels
        if column == "success_rate":
            assert all(lab.startswith("99") for lab in labels), labels  # its own range
        assert any(re.search(r"\d\d:\d\d", ln) for ln in lines)  # clock time on the x axis


@pytest.mark.slow
async def test_sorting_the_merchant_list_shows_the_top(tmp_path: Path) -> None:
    """#11 point 9: after a sort key the list opened in the middle (the cursor followed the merchant
    it was on); with the cursor on the first row, a new sort shows the new first rows, and Industry ▲
    reads A to Z from the top."""
    import asyncio

    import merchant_data

    from ecotop.tui.screens import merchants as merchants_screen
    from ecotop.tui.screens.merchants import MerchantsScreen
    from ecotop.tui.widgets.merchant_table import MerchantTable

    merchants_screen.clear_cache()
    path = merchant_data.build_tiny(tmp_path / "tiny.duckdb")
    app = make_app(
        path,
        clock=lambda: merchant_data.END,
        rules=(),
        refresh_s=3600,
        range_key="24h",
    )
    try:
        async with app.run_test(size=(100, 14)) as pilot:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 30
            await pilot.pause(0.3)
            await pilot.press("m")
            while not (isinstance(app.screen, MerchantsScreen) and app.screen.view is not None):
                assert loop.time() < deadline
                await pilot.pause(0.05)
            screen = app.screen
            table = screen.query_one(MerchantTable)
            assert table.cursor_row == 0
            for key in ("less_than_sign", "less_than_sign"):  # gmv -> city -> industry
                await pilot.press(key)
                await pilot.pause(0.1)
            assert screen.sort_column == "industry" and not screen.descending
            assert table.cursor_row == 0 and table.scroll_y == 0
            industries = screen.view["industry"].to_pylist()
            assert industries == sorted(industries)
            text = "\n".join(screen_lines(app))
            assert "Industry ▲" in text
            first = next(ln for ln in screen_lines(app) if industries[0] in ln)
            assert screen_lines(app).index(first) <= 4  # the first row is on screen, at the top
            await pilot.press("I")
            await pilot.pause(0.1)
            assert table.cursor_row == 0 and table.scroll_y == 0
            assert screen.view["industry"].to_pylist() == sorted(industries, reverse=True)
    finally:
        app.db.close()
        merchants_screen.clear_cache()


@pytest.mark.slow
async def test_pillar_table_owns_the_keys_when_the_view_opens(tiny_db: Path) -> None:
    """#11 point 6: in a pillar view titled "(enter: open)", enter did nothing until Tab and Down
    scrolled the page; the table under the cursor owns the keys from the start."""
    from ecotop.tui.screens.merchant import MerchantScreen
    from ecotop.tui.screens.pillar import PillarScreen
    from ecotop.tui.widgets.charts import ArrowTable

    app = app_for(tiny_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.3)
        await pilot.press("4")  # Pay: top merchants
        await until(
            pilot,
            lambda: (
                isinstance(app.screen, PillarScreen)
                and app.screen.query_one("#table-merchants", ArrowTable).row_count > 0
            ),
        )
        table = app.screen.query_one("#table-merchants", ArrowTable)
        assert app.screen.focused is table
        body = app.screen.query_one("#pillar-body")
        assert body.scroll_y == 0  # the focus did not scroll the measures away
        await pilot.press("enter")
        await pilot.pause(0.5)
        assert isinstance(app.screen, MerchantScreen)


async def test_funnel_says_customers_and_of_how_many() -> None:
    """#11: the funnel read as nonsense (visit 30 -> order 103, conversions 0.0%/100.0%, "Order"
    beside "Orders"): steps in words that count customers, and each conversion says of how many."""
    from textual.app import App

    from ecotop.tui.widgets.merchant_funnel import MerchantFunnel

    steps = [
        ("oa_read", "Official Account reach", 12, None, None, None),
        ("mp_visit", "Mini Program visit", 30, 12, 6, 0.5),
        ("order", "Order", 103, 30, 30, 1.0),
        ("pay", "Pay", 100, 103, 100, 100 / 103),
        ("member", "Member enrolment", 7, 100, 7, 0.07),
        ("wecom_add", "WeCom contact", 0, 7, 0, 0.0),
        ("group_join", "Customer group join", 2, 0, 0, None),
        ("live_view", "Channels live view", 190, 2, 1, 0.5),
        ("repurchase", "Repurchase", 3, 190, 3, 3 / 190),
    ]
    funnel = [
        dict(zip(("step", "label", "customers", "base", "converted", "conversion"), s, strict=True))
        for s in steps
    ]

    class One(App[None]):
        def compose(self):
            yield MerchantFunnel(id="f")

    app = One()
    async with app.run_test(size=(100, 20)) as pilot:
        app.query_one(MerchantFunnel).show(funnel)
        await pilot.pause(0.2)
        text = "\n".join(screen_lines(app))
    assert "customers who" in text and "placed an order" in text
    assert "Order " not in text.replace("placed an order", "")
    assert "100.00% of 30" in text  # everyone of the 30 visitors ordered
    assert "97.09% of 103" in text and "7.00% of 100" in text
    assert "0.00% of 7" in text
    assert "103" in text and "190" in text


@pytest.mark.slow
async def test_no_color_marks_the_selected_row(tiny_db: Path, monkeypatch) -> None:
    """#11 NO_COLOR: the selected row is marked by something other than colour: ▶ in the merchant
    list, reverse video in the list and in pillar tables."""
    from ecotop.tui.screens.merchants import MerchantsScreen
    from ecotop.tui.screens.pillar import PillarScreen
    from ecotop.tui.widgets.charts import ArrowTable
    from ecotop.tui.widgets.merchant_table import MerchantTable

    monkeypatch.setenv("NO_COLOR", "1")
    app = app_for(tiny_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.refresh_count >= 1)
        await pilot.press("m")
        await until(
            pilot, lambda: isinstance(app.screen, MerchantsScreen) and app.screen.view is not None
        )
        await pilot.pause(0.2)
        table = app.screen.query_one(MerchantTable)
        strip = table.render_line(1 + table.cursor_row - int(table.scroll_y))
        assert strip.text.startswith("▶")
        assert any(seg.style is not None and seg.style.reverse for seg in strip)
        await pilot.press("escape")
        await pilot.press("4")
        await until(
            pilot,
            lambda: (
                isinstance(app.screen, PillarScreen)
                and app.screen.query_one("#table-merchants", ArrowTable).row_count > 0
            ),
        )
        await pilot.pause(0.2)
        t = app.screen.query_one("#table-merchants", ArrowTable)
        style = t.get_component_styles("datatable--cursor")
        assert "reverse" in str(style.text_style)


@pytest.mark.slow
async def test_b_cycles_the_baseline_and_the_status_bar_says_which(tiny_db: Path) -> None:
    """#11 'Change against what?': the dashboard compares with the same time last week by default
    (ranges up to 24h), `b` cycles previous window / yesterday / last week, the status bar says
    which, and the tiles' changes are the query layer's for that baseline."""
    from ecotop.queries import kpis
    from ecotop.store import open_db
    from ecotop.tui.widgets.format import format_change
    from ecotop.tui.widgets.kpi import KpiTile
    from ecotop.tui.widgets.status import StatusBar

    def want(baseline: str) -> str:
        db = open_db(tiny_db)
        try:
            ks = kpis(db.cursor(), "1h", baseline=baseline)
        finally:
            db.close()
        m = ks.get("pay.transactions")
        return format_change(m.definition.kind, m.change)

    app = app_for(tiny_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.refresh_count >= 1)
        status = lambda: app.screen.query_one(StatusBar).plain  # noqa: E731
        tile = lambda: app.screen.query_one("#kpi-pay-transactions", KpiTile)  # noqa: E731
        assert "vs last week" in status()
        assert tile().state.change == want("week")
        for baseline, label in [("previous", "vs previous 1h"), ("day", "vs yesterday")]:
            start = app.refresh_count
            await pilot.press("b")
            await until(pilot, lambda s=start: app.refresh_count > s)
            assert label in status()
            assert tile().state.change == want(baseline), baseline
        await pilot.press("b")
        await until(pilot, lambda: "vs last week" in status())
        await pilot.press("t", "t", "t")  # 1h -> 24h -> 7d -> 30d: the choice stays
        await pilot.pause(0.2)
        assert "vs last week" in status()


@pytest.mark.slow
async def test_T_steps_back_and_notices_do_not_stack(tiny_db: Path) -> None:
    """#11: `T` steps the range back; `+`/`-` pressed seven times leave one notice, not seven;
    `r` while paused resumes and says so."""
    app = app_for(tiny_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.refresh_count >= 1)
        assert app.range_key == "1h"
        await pilot.press("T")
        assert app.range_key == "15m"
        await pilot.press("T")
        assert app.range_key == "30d"
        await pilot.press("t")
        assert app.range_key == "15m"
        for key in ("plus", "minus") * 3 + ("plus",):
            await pilot.press(key)
        await pilot.pause(0.2)
        assert len(app._notifications) == 1
        await pilot.press("p")
        assert app.paused
        await pilot.press("r")
        await pilot.pause(0.2)
        assert not app.paused
        assert [n.message for n in app._notifications] == ["resumed: refreshing now"]


@pytest.mark.slow
async def test_palette_finds_pillars_and_merchants_by_name(tiny_db: Path) -> None:
    """#11: typing `wecom` in the palette found nothing and entries said `action: pillar(1)`; now
    the pillars are found by name and a merchant by part of its name opens it."""
    from ecotop.tui.screens.merchant import MerchantScreen
    from ecotop.tui.screens.merchants import MerchantsScreen
    from ecotop.tui.screens.pillar import PillarScreen

    app = app_for(tiny_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.refresh_count >= 1)
        await pilot.press("ctrl+p")
        await pilot.pause(0.2)
        await pilot.press(*"wecom")
        await pilot.pause(0.5)
        text = "\n".join(screen_lines(app))
        assert "WeCom" in text and "action:" not in text
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, PillarScreen))
        assert app.screen.pillar == "wecom"
        await pilot.press("escape")
        await pilot.press("m")  # the list caches the names the palette searches
        await until(
            pilot, lambda: isinstance(app.screen, MerchantsScreen) and app.screen.view is not None
        )
        await pilot.press("escape")
        await pilot.press("ctrl+p")
        await pilot.pause(0.2)
        await pilot.press(*"tea hou")
        await pilot.pause(0.5)
        assert "Merchant: Tea House" in "\n".join(screen_lines(app))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, MerchantScreen))


@pytest.mark.slow
async def test_q_asks_once_while_a_spool_feeds_the_file(tmp_path: Path) -> None:
    """#11: `q` while `--spool` ingests asks (y/n), since quitting stops the feed; n goes back,
    q again (or y) quits. A file without a feed quits at once."""
    from spool_events import make_db

    from ecotop.tui.screens.confirm import Confirm

    db = tmp_path / "t.duckdb"
    make_db(db)
    spool = tmp_path / "spool"
    spool.mkdir()
    app = make_app(db, spool=spool, rules=(), refresh_s=30, serve=False)
    quit_ok = False
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.refresh_count >= 1)
            await pilot.press("q")
            await pilot.pause(0.2)
            assert isinstance(app.screen, Confirm)
            assert app.feed.running
            await pilot.press("n")
            await pilot.pause(0.2)
            assert not isinstance(app.screen, Confirm) and app.feed.running
            await pilot.press("q")
            await pilot.pause(0.2)
            await pilot.press("q")  # q again: yes
            await pilot.pause(0.5)
            quit_ok = not app.feed.running
    finally:
        app.shutdown()
        app.db.close()
    assert quit_ok


@pytest.mark.slow
async def test_esc_clears_the_filter_before_it_leaves(tiny_db: Path) -> None:
    """#11: esc undoes one step: in a filtered list it clears the filter first, then leaves."""
    from ecotop.tui.screens.merchants import MerchantsScreen
    from ecotop.tui.screens.overview import OverviewScreen

    app = app_for(tiny_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.refresh_count >= 1)
        await pilot.press("m")
        await until(
            pilot, lambda: isinstance(app.screen, MerchantsScreen) and app.screen.view is not None
        )
        screen = app.screen
        everyone = screen.view.num_rows
        await pilot.press("slash", *"zzz", "enter")
        await pilot.pause(0.2)
        assert screen.filter_text == "zzz" and screen.view.num_rows < everyone
        await pilot.press("escape")
        await pilot.pause(0.2)
        assert app.screen is screen and screen.filter_text == ""
        assert screen.view.num_rows == everyone
        await pilot.press("escape")
        await pilot.pause(0.2)
        assert isinstance(app.screen, OverviewScreen)


@pytest.mark.slow
async def test_overview_panels_take_focus_and_enter_opens_the_pillar(tiny_db: Path) -> None:
    """#11 (btop's boxes): Tab or the arrows move between the seven panels, the focused one has a
    ring, enter opens that pillar."""
    from ecotop.tui.screens.overview import OverviewScreen
    from ecotop.tui.screens.pillar import PillarScreen
    from ecotop.tui.widgets.panel import PillarPanel

    app = app_for(tiny_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.refresh_count >= 1)
        panels = list(app.screen.query(PillarPanel))
        assert app.focused is panels[0]  # the first panel has the focus when the overview opens
        await pilot.press("tab")
        assert app.focused is panels[1]
        await pilot.press("down")  # the grid's next row, same column
        focused = app.focused
        assert isinstance(focused, PillarPanel) and focused.region.y > panels[1].region.y
        assert focused.region.x == panels[1].region.x
        await pilot.press("left")
        assert isinstance(app.focused, PillarPanel)
        assert app.focused.region.x < focused.region.x
        ring = app.focused.styles.border_top
        assert ring != panels[6].styles.border_top  # the focused panel's border differs
        n = app.focused.number
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, PillarScreen))
        from ecotop.queries import PILLARS

        assert app.screen.pillar == list(PILLARS)[n - 1]
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, OverviewScreen))


async def test_tiles_older_than_the_range_on_screen_say_so(tiny_db: Path) -> None:
    """#11: after `t` the status said 7d while the tiles showed 24h numbers; until the numbers of
    the range on screen arrive, each panel says it is loading them."""
    from ecotop.tui.widgets.panel import PillarPanel

    app = app_for(tiny_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.refresh_count >= 1)
        panels = list(app.screen.query(PillarPanel))
        assert not any(p.has_class("-loading") for p in panels)
        await pilot.press("p")  # paused: no refresh, so the old numbers stay on screen
        await pilot.press("t")
        await pilot.pause(0.1)
        assert all(p.has_class("-loading") for p in panels)
        assert "⟳ 24h" in str(panels[0].border_title)
        await pilot.press("r")  # resumes: the 24h numbers arrive
        await until(pilot, lambda: not any(p.has_class("-loading") for p in panels))
        assert "⟳" not in str(panels[0].border_title)


@pytest.mark.slow
async def test_alerts_count_not_judged_and_not_compared_apart_and_show_windows(
    tiny_db: Path,
) -> None:
    """#11: the summary said "38 checks OK" counting rules that were stale, not judged or not
    compared; they are their own states, and each rule shows its window next to its value."""
    from ecotop.tui.screens.alerts import AlertsScreen

    app = app_for(tiny_db, rules=None)  # the default rules
    async with app.run_test(size=(160, 50)) as pilot:
        await until(pilot, lambda: app.refresh_count >= 1)
        app.action_refresh_now()
        await until(pilot, lambda: bool(app.alerts), timeout=60)
        await pilot.pause(0.3)
        states = [a.state.name for a in app.alerts]
        unknown = states.count("UNKNOWN")
        uncompared = sum(
            1
            for a in app.alerts
            if a.state.name == "OK" and a.rule.condition == "change" and a.change is None
        )
        ok = states.count("OK") - uncompared
        summary = str(app.screen.query_one("#alerts-summary").render())
        if "WARNING" not in states and "CRITICAL" not in states:
            assert f"✔ {ok} OK" in summary, summary
            if unknown:
                assert f"{unknown} not judged" in summary
            if uncompared:
                assert f"{uncompared} not compared" in summary
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, AlertsScreen))
        await pilot.pause(0.3)
        text = "\n".join(screen_lines(app))
        assert "window" in text
        for a in app.alerts[:3]:
            assert str(a.rule.window) in text


@pytest.mark.slow
async def test_console_esc_closes_completion_then_cancels_then_leaves(tiny_db: Path) -> None:
    """#11: in the console esc closes completion first, then cancels a running query, then
    leaves (it cancelled the query and left the menu open)."""
    from ecotop.tui.screens.console import ConsoleScreen
    from ecotop.tui.screens.overview import OverviewScreen

    slow = (
        "select count(*) from range(300000) a(x), range(300000) b(y) where (a.x * 31 + b.y) % 7 = 3"
    )
    app = app_for(tiny_db, refresh_s=0.5)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.refresh_count >= 1)
        await pilot.press("colon")
        await until(pilot, lambda: isinstance(app.screen, ConsoleScreen))
        screen = app.screen
        await until(pilot, lambda: screen.editor.completer.catalog.loaded)
        screen.editor.load_text(slow)
        await pilot.press("ctrl+j")
        await until(pilot, lambda: screen.job is not None)
        screen.editor.move_cursor(screen.editor.document.end)
        await pilot.press(*" sel")
        await pilot.pause(0.2)
        if screen.job is None:
            pytest.skip("the query finished before the menu opened")
        assert screen.editor.menu_shown
        await pilot.press("escape")
        assert not screen.editor.menu_shown and screen.job is not None  # the query runs on
        await pilot.press("escape")
        assert screen.job is None and app.screen is screen  # cancelled, still here
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, OverviewScreen))
