"""Pinned panels on the overview (#11.1, #11.3): `--config FILE` panels show with their name as title,
removing one writes FILE (not the default config), and every key keeps working afterwards."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import dashboard_data
import pytest

from ecotop.tui import config
from ecotop.tui.app import EcotopApp, make_app
from ecotop.tui.widgets.pinned import PinnedPanel
from ecotop.tui.widgets.sql_dialogs import ConfirmScreen

FIXED = datetime(2026, 11, 20, 4, 0, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def db_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return dashboard_data.build(tmp_path_factory.mktemp("pins") / "pins.duckdb")


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private HOME and XDG dirs, so the default config is known and starts empty."""
    h = tmp_path / "home"
    for var, sub in (("HOME", ""), ("XDG_STATE_HOME", "s"), ("XDG_CONFIG_HOME", "c")):
        d = h / sub if sub else h
        d.mkdir(parents=True, exist_ok=True)
        monkeypatch.setenv(var, str(d))
    monkeypatch.delenv("ECOTOP_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_DIRS", str(tmp_path / "no-system-config"))
    return h


async def wait_for(pilot, cond, timeout: float = 20.0, what: str = "condition") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not cond():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)


def app_with(db: Path, cfg: Path) -> EcotopApp:
    return make_app(db, config_path=cfg, clock=lambda: FIXED, rules=(), refresh_s=30.0)


@pytest.mark.slow
async def test_a_panel_of_config_file_shows_by_name_and_x_removes_it_there(
    db_path: Path, tmp_path: Path
) -> None:
    cfg = tmp_path / "ops.toml"
    config.add_panel(cfg, config.Panel("paid today", "select 42 as paid", "number"))
    app = app_with(db_path, cfg)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: list(app.screen.query(PinnedPanel)), what="the panel")
            panel = app.screen.query_one(PinnedPanel)
            assert panel.border_title == "paid today"
            await wait_for(pilot, lambda: panel.result is not None, what="its data")
            assert "42" in str(panel.query_one(".pinned-value").render())
            # shift+Tab reaches the panel (the last focusable widget: the seven pillar panels come
            # first since #11 made them focusable), x asks, y confirms
            await pilot.press("shift+tab")
            assert app.focused is panel
            await pilot.press("x")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirm")
            await pilot.press("y")
            await wait_for(pilot, lambda: not list(app.screen.query(PinnedPanel)), what="gone")
            # every key still works: m opens the merchants, esc comes back, : the console
            await pilot.press("m")
            await wait_for(
                pilot, lambda: type(app.screen).__name__ == "MerchantsScreen", what="merchants"
            )
            await pilot.press("escape")
            await wait_for(
                pilot, lambda: type(app.screen).__name__ == "OverviewScreen", what="overview"
            )
            await pilot.press("colon")
            await wait_for(
                pilot, lambda: type(app.screen).__name__ == "ConsoleScreen", what="console"
            )
    finally:
        app.db.close()
    assert config.panels_in(cfg) == []
    assert not config.user_file().exists()


async def test_pinning_with_config_file_writes_that_file(db_path: Path, tmp_path: Path) -> None:
    from ecotop.tui.widgets.sql_dialogs import PinScreen

    cfg = tmp_path / "ops.toml"
    cfg.write_text('range = "1h"\n')
    app = app_with(db_path, cfg)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("colon")
            await wait_for(
                pilot, lambda: type(app.screen).__name__ == "ConsoleScreen", what="console"
            )
            screen = app.screen
            screen.editor.load_text("select 7 as seven")
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: isinstance(app.screen, PinScreen), what="pin dialog")
            app.screen.query_one("#pin-name").value = "seven"
            await pilot.press("enter")
            await wait_for(pilot, lambda: config.panels_in(cfg) != [], what="the pin in FILE")
    finally:
        app.db.close()
    assert [p.name for p in config.panels_in(cfg)] == ["seven"]
    assert not config.user_file().exists()


async def test_removing_a_focused_panel_of_the_user_file_leaves_every_key_working(
    db_path: Path,
) -> None:
    """#11.1 as first seen: a panel pinned in the default config; Tab, x, y froze every key."""
    config.add_panel(config.user_file(), config.Panel("paid today", "select 42 as paid", "number"))
    app = make_app(db_path, clock=lambda: FIXED, rules=(), refresh_s=30.0)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: list(app.screen.query(PinnedPanel)), what="the panel")
            await pilot.press("shift+tab", "x")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirm")
            await pilot.press("y")
            await wait_for(pilot, lambda: not list(app.screen.query(PinnedPanel)), what="gone")
            await pilot.press("m")
            await wait_for(
                pilot, lambda: type(app.screen).__name__ == "MerchantsScreen", what="m works"
            )
    finally:
        app.db.close()
    assert config.panels_in(config.user_file()) == []
