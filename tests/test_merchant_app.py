"""Pilot tests of the Merchants screens: `m`, sorting, `/` filtering (literal text, CJK), `enter`,
`esc` back with the filter and position kept; snapshots of the merchant view at 80x24 and 200x60.

The tiny hand-made file (tests/merchant_data.py) has names with %, _, quotes, SQL and CJK; the
snapshots use the generated `small_db` with a fixed clock and timing text hidden.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import merchant_data
import pytest

from ecotop.queries import merchant as M
from ecotop.tui.app import EcotopApp, make_app
from ecotop.tui.screens import merchants as merchants_screen
from ecotop.tui.screens.merchants import MerchantScreen, MerchantsScreen
from ecotop.tui.widgets.merchant_funnel import MerchantFunnel
from ecotop.tui.widgets.merchant_table import MerchantTable

END = merchant_data.END


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return merchant_data.build_tiny(tmp_path_factory.mktemp("mtiny") / "tiny.duckdb")


@pytest.fixture(autouse=True)
def _fresh_cache():
    merchants_screen.clear_cache()
    yield
    merchants_screen.clear_cache()


def app_for(path: Path, **kw) -> EcotopApp:
    kw.setdefault("clock", lambda: END + timedelta(seconds=30))
    kw.setdefault("rules", ())
    kw.setdefault("refresh_s", 3600)
    kw.setdefault("show_timing", False)
    kw.setdefault("watchdog", False)
    kw.setdefault("range_key", "24h")
    app = make_app(path, **kw)
    _OPEN.append(app)
    return app


_OPEN: list[EcotopApp] = []


@pytest.fixture(autouse=True)
def _close_apps():
    yield
    while _OPEN:
        _OPEN.pop().db.close()


async def wait_for(pilot, cond, timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not cond():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await pilot.pause(0.05)
    await pilot.pause()


async def open_list(pilot) -> MerchantsScreen:
    app = pilot.app
    await wait_for(pilot, lambda: app.refresh_count >= 1 and app._inflight is None)
    await pilot.press("m")
    await wait_for(
        pilot, lambda: isinstance(app.screen, MerchantsScreen) and app.screen.view is not None
    )
    return app.screen


def shown_ids(screen: MerchantsScreen) -> list[int]:
    return screen.view["merchant_id"].to_pylist()


async def test_m_lists_every_merchant_sorted_by_gmv(tiny_path: Path) -> None:
    app = app_for(tiny_path)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await open_list(pilot)
        assert screen.data.table.num_rows == 8
        ids = shown_ids(screen)
        assert len(ids) == 8 and ids[0] == 1  # merchant 1 takes every third payment
        gmv = screen.view["gmv"].to_pylist()
        assert gmv == sorted(gmv, reverse=True)
        assert 6 in ids  # the merchant without activity is listed (zeros)
        title = str(screen.query_one("#merchants-title").render())
        assert "Merchants 8 of 8" in title and "GMV ▼" in title
        # the repurchase and member columns fill in from the second worker
        await wait_for(pilot, lambda: screen.data.loyalty)
        row = {r["merchant_id"]: r for r in screen.view.to_pylist()}
        assert row[1]["repurchase_rate"] is not None and row[6]["repurchase_rate"] is None
        assert app.last_error is None


@pytest.mark.slow
async def test_sort_keys(tiny_path: Path) -> None:
    app = app_for(tiny_path)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await open_list(pilot)
        await pilot.press("s")
        assert screen.sort_column == "orders" and screen.descending
        orders = screen.view["orders"].to_pylist()
        assert orders == sorted(orders, reverse=True)
        await pilot.press("I")
        assert not screen.descending
        assert screen.view["orders"].to_pylist() == sorted(orders)
        await pilot.press("less_than_sign", "less_than_sign")
        assert screen.sort_column == "city"
        cities = screen.view["city"].to_pylist()
        assert cities == sorted(cities)  # text sorts A to Z
        await pilot.press("greater_than_sign")
        assert screen.sort_column == "gmv"
        for _ in range(len(merchants_screen.SORTABLE)):
            await pilot.press("s")
        assert screen.sort_column == "gmv"  # the cycle comes round
        table = screen.query_one(MerchantTable)
        assert "GMV ▼" in table.header_text()


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("%", [2]),
        ("_", [2]),
        ("'", None),  # O'Brien's, the SQL-looking name and Xi'an: checked below
        ("饺子", [5]),
        ("'; DROP TABLE merchants; --", [4]),
    ],
)
@pytest.mark.slow
async def test_filter_is_literal(tiny_path: Path, text: str, ids) -> None:
    app = app_for(tiny_path)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await open_list(pilot)
        await pilot.press("slash")
        assert screen.query_one("#merchants-filter").has_focus
        for ch in text:
            await pilot.press(ch if ch.isalnum() and ch.isascii() else _key(ch))
        assert screen.filter_text == text
        got = sorted(shown_ids(screen))
        assert got == (ids if ids is not None else [3, 4, 8])
        assert "-empty" not in screen.classes
        assert isinstance(app.screen, MerchantsScreen)  # no key fired while typing


def _key(ch: str) -> str:
    names = {
        "%": "percent_sign",
        "_": "underscore",
        "'": "apostrophe",
        ";": "semicolon",
        " ": "space",
        "-": "minus",
    }
    return names.get(ch, ch)


@pytest.mark.slow
async def test_filter_without_match_says_so_and_keys_do_not_fire(tiny_path: Path) -> None:
    app = app_for(tiny_path)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await open_list(pilot)
        await pilot.press("slash", "q", "m", "z", "z")  # q and m are text here, not keys
        assert isinstance(app.screen, MerchantsScreen) and app.is_running
        assert screen.filter_text == "qmzz"
        assert screen.view.num_rows == 0
        assert "-empty" in screen.classes
        assert "no merchants match" in str(screen.query_one("#merchants-empty").render())
        for _ in range(4):
            await pilot.press("backspace")
        assert screen.view.num_rows == 8 and "-empty" not in screen.classes


@pytest.mark.slow
async def test_enter_opens_the_merchant_and_esc_comes_back_with_filter_and_position(
    tiny_path: Path,
) -> None:
    app = app_for(tiny_path)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await open_list(pilot)
        await pilot.press("slash", *"tea")
        await pilot.press("enter")  # leaves the filter box, the filter stays
        table = screen.query_one(MerchantTable)
        assert table.has_focus and screen.filter_text == "tea"
        assert sorted(shown_ids(screen)) == [1, 7]
        await pilot.press("down")
        row = table.cursor_row
        chosen = table.merchant_at_cursor()
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, MerchantScreen))
        detail_screen = app.screen
        assert detail_screen.merchant_id == chosen
        await wait_for(pilot, lambda: detail_screen.detail is not None)
        funnel = detail_screen.query_one(MerchantFunnel)
        assert funnel.steps is not None and len(funnel.steps) == 9
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MerchantsScreen))
        assert app.screen is screen
        assert screen.filter_text == "tea" and sorted(shown_ids(screen)) == [1, 7]
        assert table.cursor_row == row and table.merchant_at_cursor() == chosen
        await pilot.press("escape")  # esc clears the filter first (#11: one step back) ...
        await wait_for(pilot, lambda: screen.filter_text == "")
        await pilot.press("escape")  # ... then goes back to where `m` was pressed
        await wait_for(pilot, lambda: not isinstance(app.screen, MerchantsScreen))


@pytest.mark.slow
async def test_esc_in_the_filter_box_returns_to_the_list(tiny_path: Path) -> None:
    app = app_for(tiny_path)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await open_list(pilot)
        await pilot.press("slash", *"shop", "escape")
        assert isinstance(app.screen, MerchantsScreen)
        assert screen.query_one(MerchantTable).has_focus
        assert shown_ids(screen) == [6]


async def test_merchant_view_of_an_inactive_merchant_shows_zeros(tiny_path: Path) -> None:
    app = app_for(tiny_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.refresh_count >= 1 and app._inflight is None)
        app.post_message(merchants_screen.OpenMerchant(6))
        await wait_for(pilot, lambda: isinstance(app.screen, MerchantScreen))
        screen = app.screen
        await wait_for(pilot, lambda: screen.detail is not None)
        assert [s[1] for s in screen.query_one(MerchantFunnel).steps] == [0] * 9
        assert app.last_error is None
        assert "Sleepy Shop" in str(screen.query_one("#merchant-title").render())


async def test_merchant_view_of_an_unknown_merchant_says_so(tiny_path: Path) -> None:
    app = app_for(tiny_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.refresh_count >= 1 and app._inflight is None)
        app.post_message(merchants_screen.OpenMerchant(4242))
        await wait_for(pilot, lambda: isinstance(app.screen, MerchantScreen))
        title = app.screen.query_one("#merchant-title")
        await wait_for(pilot, lambda: "no merchant" in str(title.render()))


async def test_list_numbers_match_the_query_layer(tiny_path: Path) -> None:
    from ecotop.queries.windows import window

    app = app_for(tiny_path)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await open_list(pilot)
        await wait_for(pilot, lambda: screen.data.loyalty)
        cur = app.db.cursor()
        expected = M.merchant_list(cur, window("24h", END), loyalty=True).to_pylist()
        cur.close()
        got = {r["merchant_id"]: r for r in screen.data.table.to_pylist()}
        for r in expected:
            assert got[r["merchant_id"]] == r


# -- snapshots --------------------------------------------------------------------------------------


def _snap_app(small_db: Path, small_db_end) -> EcotopApp:
    return make_app(
        small_db,
        clock=lambda: small_db_end,
        rules=(),
        refresh_s=3600,
        show_timing=False,
        watchdog=False,
        range_key="30d",
    )


async def _merchant_view(pilot) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: app.refresh_count >= 1 and app._inflight is None, 60)
    app.post_message(merchants_screen.OpenMerchant(1))
    await wait_for(pilot, lambda: isinstance(app.screen, MerchantScreen), 60)
    await wait_for(pilot, lambda: app.screen.detail is not None and app._inflight is None, 60)
    await pilot.pause(0.3)


@pytest.mark.slow
@pytest.mark.parametrize("size", [(80, 24), (200, 60)], ids=["80x24", "200x60"])
def test_merchant_view_snapshot(snap_compare, small_db: Path, small_db_end, size) -> None:
    app = _snap_app(small_db, small_db_end)
    try:
        assert snap_compare(app, terminal_size=size, run_before=_merchant_view)
    finally:
        app.db.close()


async def test_prefetch_fills_the_cache_so_m_shows_rows_on_mount(tiny_path: Path) -> None:
    app = app_for(tiny_path)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(pilot, lambda: app.refresh_count >= 1 and app._inflight is None)
        merchants_screen.prefetch(app)
        await wait_for(pilot, lambda: len(merchants_screen._CACHE) == 1)
        await pilot.press("m")
        screen = app.screen
        assert isinstance(screen, MerchantsScreen)
        assert screen.rows is not None and len(screen.rows) == 8  # shown at mount, from the cache
