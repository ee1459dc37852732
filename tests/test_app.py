"""Pilot tests of the dashboard app: the refresh cycle, every key, alerts, pause, errors, sizes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dashboard_data
import pytest

from ecotop.tui.app import EcotopApp, TooSmallScreen, make_app
from ecotop.tui.screens.base import EcotopScreen, OpenMerchant
from ecotop.tui.screens.overview import OverviewScreen
from ecotop.tui.widgets.kpi import KpiTile
from ecotop.tui.widgets.status import StatusBar

FIXED = datetime(2026, 11, 20, 4, 0, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def tiny_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return dashboard_data.build(tmp_path_factory.mktemp("dash") / "tiny.duckdb")


def app_for(path: Path, **kw) -> EcotopApp:
    kw.setdefault("clock", lambda: FIXED)
    kw.setdefault("rules", ())
    kw.setdefault("refresh_s", 30.0)  # tests drive refreshes themselves
    return make_app(path, **kw)


async def refreshed(
    pilot, app: EcotopApp, n: int = 1, since: int | None = None, timeout: float = 20.0
) -> None:
    """Wait until `n` more refresh cycles finished, counting from `since` (default: now)."""
    target = (app.refresh_count if since is None else since) + n
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while app.refresh_count < target:
        if loop.time() > deadline:
            raise AssertionError(f"no refresh after {timeout}s (count {app.refresh_count})")
        await pilot.pause(0.05)
    await pilot.pause()


def tile(app: EcotopApp, measure_id: str) -> KpiTile:
    return app.screen.query_one(f"#kpi-{measure_id.replace('.', '-')}", KpiTile)


def status(app: EcotopApp) -> str:
    return app.screen.query_one(StatusBar).plain


async def test_overview_fills_every_tile_with_the_numbers_of_the_window(tiny_db: Path) -> None:
    end = dashboard_data.END
    # counted from the raw rows before the app opens the file (DuckDB allows one config per file)
    expected = dashboard_data.count_paid(tiny_db, end - timedelta(hours=1), end)
    app = app_for(tiny_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await refreshed(pilot, app)
        assert isinstance(app.screen, OverviewScreen)
        tiles = list(app.screen.query(KpiTile))
        assert len(tiles) >= 7 * 3
        assert all(t.state.value != "…" for t in tiles)
        assert tile(app, "pay.transactions").state.value == f"{expected:,}"
        assert app.current_as_of() == end
        assert "data to 11-20 12:00:00 CST" in status(app)
        assert app.last_error is None


async def test_refresh_cycle_schedules_the_next_only_after_the_last_finished(tiny_db: Path) -> None:
    app = app_for(tiny_db, refresh_s=0.1)
    app.immutable = False  # as if the file could change: every cycle queries
    starts: list[int] = []
    original = OverviewScreen.fetch

    def fetch(self, cur, ctx):
        starts.append(app.refresh_count)
        return original(self, cur, ctx)

    OverviewScreen.fetch = fetch  # type: ignore[method-assign]
    try:
        async with app.run_test() as pilot:
            await refreshed(pilot, app, 3)
            # each fetch started after the previous cycle finished: no two started in one cycle
            assert starts == sorted(set(starts))
    finally:
        OverviewScreen.fetch = original  # type: ignore[method-assign]


async def test_a_file_that_cannot_change_is_queried_once_per_range(tiny_db: Path) -> None:
    app = app_for(tiny_db, refresh_s=0.1)
    assert app.immutable  # opened read-only here: no process can write it meanwhile
    fetched: list[str] = []
    original = OverviewScreen.fetch

    def fetch(self, cur, ctx):
        fetched.append(ctx.range_key)
        return original(self, cur, ctx)

    OverviewScreen.fetch = fetch  # type: ignore[method-assign]
    try:
        async with app.run_test(size=(120, 30)) as pilot:
            await refreshed(pilot, app, 3)
            assert fetched == ["1h"]
            assert "file unchanged" in status(app)
            n = app.refresh_count
            await pilot.press("t")
            await refreshed(pilot, app, 2, since=n)
            assert fetched == ["1h", "24h"]
    finally:
        OverviewScreen.fetch = original  # type: ignore[method-assign]


@pytest.mark.slow
async def test_t_cycles_the_time_range_and_refreshes(tiny_db: Path) -> None:
    app = app_for(tiny_db)
    async with app.run_test() as pilot:
        await refreshed(pilot, app)
        seen = []
        for _ in range(5):
            n0 = app.refresh_count
            await pilot.press("t")
            await refreshed(pilot, app, since=n0)
            seen.append(app.range_key)
            assert f"range {app.range_key}" in status(app)
        assert seen == ["24h", "7d", "30d", "15m", "1h"]


async def test_pause_stops_rendering_but_not_the_app_and_r_resumes(tiny_db: Path) -> None:
    app = app_for(tiny_db, refresh_s=0.1)
    app.immutable = False  # as if the file could change: every cycle queries
    async with app.run_test() as pilot:
        await refreshed(pilot, app)
        applied = []
        screen = app.screen
        original = screen.apply
        screen.apply = lambda data: (applied.append(1), original(data))  # type: ignore[method-assign]
        await pilot.press("p")
        assert app.paused
        assert "PAUSED" in status(app)
        await pilot.pause(0.5)
        assert applied == []
        n0 = app.refresh_count
        await pilot.press("r")  # refresh now also resumes
        assert not app.paused
        await refreshed(pilot, app, since=n0)
        assert applied


async def test_plus_and_minus_change_the_refresh_interval(tiny_db: Path) -> None:
    app = app_for(tiny_db, refresh_s=2.0)
    async with app.run_test() as pilot:
        await pilot.press("plus")
        assert app.refresh_s == 1.0
        await pilot.press("minus", "minus")
        assert app.refresh_s == 5.0
        assert "every 5s" in status(app)


async def test_r_refreshes_now(tiny_db: Path) -> None:
    app = app_for(tiny_db, refresh_s=60.0)
    async with app.run_test() as pilot:
        await refreshed(pilot, app)
        n = app.refresh_count
        await pilot.press("r")
        await refreshed(pilot, app, since=n)
        assert app.refresh_count == n + 1


@pytest.mark.slow
async def test_number_keys_open_each_pillar_and_esc_returns(tiny_db: Path) -> None:
    from ecotop.queries import PILLARS
    from ecotop.tui.screens.pillar import PillarScreen

    app = app_for(tiny_db)
    async with app.run_test() as pilot:
        for n, pillar in enumerate(PILLARS, start=1):
            await pilot.press(str(n))
            assert isinstance(app.screen, PillarScreen)
            assert app.screen.pillar == pillar
        assert len(app.screen_stack) == 2  # number keys switch between pillars, not stack them
        await pilot.pause(0.3)
        await pilot.press("escape")
        assert isinstance(app.screen, OverviewScreen)
        await pilot.press("escape")  # the overview is the bottom: esc does nothing
        assert isinstance(app.screen, OverviewScreen)


@pytest.mark.slow
async def test_help_lists_every_key(tiny_db: Path) -> None:
    from ecotop.tui.keys import ALL_KEYS
    from ecotop.tui.screens.help import HelpScreen

    app = app_for(tiny_db)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        from rich.console import Console

        from ecotop.tui.screens.help import keys_table

        console = Console(width=100, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
        console.print(keys_table())
        plain = console.export_text()
        for k in ALL_KEYS:
            if not k.action.startswith("pillar("):
                assert k.display in plain, k
        assert "1-7" in plain
        await pilot.press("escape")
        assert isinstance(app.screen, OverviewScreen)


@pytest.mark.slow
async def test_command_palette_runs_actions_by_name(tiny_db: Path) -> None:
    app = app_for(tiny_db)
    async with app.run_test() as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause()
        for ch in "pause":
            await pilot.press(ch)
        await pilot.pause(0.5)
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert app.paused


@pytest.mark.slow
async def test_merchants_console_and_open_merchant_never_crash(tiny_db: Path) -> None:
    import importlib.util

    app = app_for(tiny_db)
    notes: list[str] = []
    async with app.run_test() as pilot:
        app.notify = lambda msg, **kw: notes.append(str(msg))  # type: ignore[method-assign]
        for key, module in (
            ("m", "ecotop.tui.screens.merchants"),
            ("colon", "ecotop.tui.screens.console"),
        ):
            await pilot.press(key)
            await pilot.pause(0.2)
            if importlib.util.find_spec(module) is None:
                assert any("not available" in n for n in notes)
            else:
                assert not isinstance(app.screen, OverviewScreen)
                app.pop_screen()
                await pilot.pause()
        app.screen.post_message(OpenMerchant(1))
        await pilot.pause(0.3)
        if importlib.util.find_spec("ecotop.tui.screens.merchants") is not None:
            assert type(app.screen).__name__ == "MerchantScreen"


async def test_single_letter_keys_do_not_fire_while_an_input_has_focus(tiny_db: Path) -> None:
    from textual.screen import Screen
    from textual.widgets import Input

    class Typing(Screen):
        def compose(self):
            yield Input(id="box")

    app = app_for(tiny_db)
    async with app.run_test() as pilot:
        await app.push_screen(Typing())
        app.screen.query_one(Input).focus()
        await pilot.press("q", "p", "t", "1", "a", "question_mark")
        await pilot.pause()
        assert app.is_running
        assert not app.paused and app.range_key == "1h"
        assert app.screen.query_one(Input).value == "qpt1a?"


@pytest.mark.slow
async def test_q_quits_and_stops_the_cycle(tiny_db: Path) -> None:
    app = app_for(tiny_db)
    async with app.run_test() as pilot:
        await refreshed(pilot, app)
        await pilot.press("q")
        await pilot.pause()
    assert not app.is_running


async def test_a_failing_query_shows_in_the_status_bar_and_the_app_goes_on(tiny_db: Path) -> None:
    app = app_for(tiny_db, refresh_s=0.1)
    original = OverviewScreen.fetch

    def broken(self, cur, ctx):
        raise RuntimeError("Binder Error: no such column\nLINE 1: ...")

    OverviewScreen.fetch = broken  # type: ignore[method-assign]
    try:
        async with app.run_test() as pilot:
            await refreshed(pilot, app, 2)
            assert app.is_running
            assert "RuntimeError: Binder Error: no such column" in status(app)
            OverviewScreen.fetch = original  # type: ignore[method-assign]
            await refreshed(pilot, app, 2)
            assert app.last_error is None
            assert "Binder" not in status(app)
    finally:
        OverviewScreen.fetch = original  # type: ignore[method-assign]


async def test_a_tiny_terminal_says_so(tiny_db: Path) -> None:
    app = app_for(tiny_db)
    async with app.run_test(size=(50, 15)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, TooSmallScreen)
        await pilot.resize_terminal(80, 24)
        await pilot.pause(0.2)
        assert isinstance(app.screen, OverviewScreen)


async def test_80x24_shows_every_pillar_with_numbers(tiny_db: Path) -> None:
    app = app_for(tiny_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await refreshed(pilot, app)
        from ecotop.tui.widgets.panel import PillarPanel

        panels = list(app.screen.query(PillarPanel))
        assert len(panels) == 7
        for p in panels:
            assert p.region.height >= 4 and p.region.width >= 30, p.pillar
            shown = [t for t in p.tiles if t.display]
            assert len(shown) >= 2, p.pillar
            assert all(t.region.width >= 30 for t in shown)


async def test_hidden_screen_is_not_rendered_and_catches_up_on_return(tiny_db: Path) -> None:
    app = app_for(tiny_db, refresh_s=0.1)
    app.immutable = False  # as if the file could change: every cycle queries
    async with app.run_test() as pilot:
        await refreshed(pilot, app)
        overview = app.screen
        applied = []
        original = overview.apply
        overview.apply = lambda data: (applied.append(1), original(data))  # type: ignore[method-assign]
        await pilot.press("question_mark")  # a modal on top: the overview keeps fetching
        await refreshed(pilot, app, 2)
        assert applied == []
        await pilot.press("escape")
        await pilot.pause(0.1)
        assert applied  # the data fetched meanwhile is shown on return


def test_screen_contract_is_documented() -> None:
    import ecotop.tui.screens.base as base

    doc = base.__doc__ or ""
    for word in ("start_refresh", "fetch", "apply", "refresh_finished", "OpenMerchant", "cursor"):
        assert word in doc
    assert issubclass(OverviewScreen, EcotopScreen)


async def test_the_app_exits_when_its_terminal_goes_away(tiny_db: Path, monkeypatch) -> None:
    import os
    import sys

    app = app_for(tiny_db)
    async with app.run_test() as pilot:
        await pilot.pause()
        app._ppid = os.getppid()
        r, w = os.pipe()
        os.close(w)
        with os.fdopen(r) as not_a_tty:
            monkeypatch.setattr(sys, "__stdin__", not_a_tty)
            app._check_terminal()  # what the watchdog timer runs every 2 s outside tests
            await pilot.pause()
    assert app.return_code == 1


async def test_no_color_keeps_every_state_readable(tiny_db: Path, monkeypatch) -> None:
    from textual.filter import Monochrome

    monkeypatch.setenv("NO_COLOR", "1")
    app = app_for(tiny_db)
    async with app.run_test() as pilot:
        await refreshed(pilot, app)
        assert any(isinstance(f, Monochrome) for f in app._filters)
        text = tile(app, "pay.transactions").render().plain
        assert "▲" in text or "▼" in text or "=" in text or "—" in text  # direction has a symbol
        await pilot.press("p")
        assert "❚❚ PAUSED" in status(app)


@pytest.mark.slow
async def test_a_lost_terminal_ends_the_app_but_not_a_process_that_goes_on(
    tiny_db: Path, monkeypatch
) -> None:
    """The hang-up's last resort (os._exit after a grace) is only for an app that did not exit: a
    process that goes on after the app (this test run) must not be killed by it."""
    import os
    import sys

    from ecotop.tui import watchdogs

    monkeypatch.setattr(watchdogs, "HANGUP_GRACE_S", 0.3)
    app = app_for(tiny_db)
    async with app.run_test() as pilot:
        await pilot.pause()
        app._ppid = os.getppid()
        r, w = os.pipe()
        os.close(w)
        with os.fdopen(r) as not_a_tty:
            monkeypatch.setattr(sys, "__stdin__", not_a_tty)
            app._check_terminal()
            await pilot.pause()
    assert app.return_code == 1
    await asyncio.sleep(1.0)  # past the grace: this process is still here
    assert not app.is_running
