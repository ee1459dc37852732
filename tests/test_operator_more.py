"""Issue #11 leftovers: a typed time range (`:range 3h`), the console's k9s-style jumps
(`:merchant NAME`, `:pillar wecom`) and a demo that moves at any hour (Pilot on real files)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import dashboard_data
import pytest
from test_operator_keys import app_for, screen_lines, until

from ecotop.queries.errors import BadInput
from ecotop.queries.windows import next_range, parse_range, range_length, window


@pytest.fixture(scope="module")
def tiny_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return dashboard_data.build(tmp_path_factory.mktemp("more") / "tiny.duckdb")


def test_typed_ranges_are_bounded() -> None:
    """`3h`, `2d`, `45m` are ranges (1m to 30d); bad or out-of-bounds text says what is allowed."""
    assert parse_range(" 3H ") == "3h" and range_length("2d") == timedelta(days=2)
    assert range_length("45m") == timedelta(minutes=45)
    w = window("3h", dashboard_data.END.replace(second=0))
    assert w.length == timedelta(hours=3) and w.prev_end == w.start
    for bad in ("0m", "31d", "721h", "1.5h", "abc", "3w"):
        with pytest.raises(BadInput):
            parse_range(bad)
    assert next_range("3h") == "24h" and next_range("3h", -1) == "1h"
    assert next_range("30d") == "15m" and next_range("15m", -1) == "30d"


async def _console_line(app, pilot, line: str) -> None:
    from ecotop.tui.screens.console import ConsoleScreen

    if not isinstance(app.screen, ConsoleScreen):
        await pilot.press("colon")
        await until(
            pilot, lambda: isinstance(app.screen, ConsoleScreen) and app.screen.buffer_ready
        )
    editor = app.screen.editor
    editor.load_text(line)
    editor.move_cursor(editor.document.end)
    await pilot.press("ctrl+j")
    await pilot.pause(0.2)


@pytest.mark.slow
async def test_console_range_line_sets_a_typed_range(tiny_db: Path) -> None:
    """`:range 3h` in the console shows the last 3 hours (the status bar says so); bad text leaves
    the range alone with one line; `t` goes on from the typed range to the next fixed one."""
    from ecotop.tui.screens.console import ConsoleScreen

    app = app_for(tiny_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.refresh_count >= 1)
        await _console_line(app, pilot, ":range 3h")
        assert app.range_key == "3h"
        await _console_line(app, pilot, ":range 45d")
        assert app.range_key == "3h"
        assert isinstance(app.screen, ConsoleScreen)
        assert "bad range" in str(app.screen.query_one("#console-status").render())
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, ConsoleScreen))
        n = app.refresh_count
        await until(
            pilot, lambda: app.refresh_count > n or "range 3h" in "".join(screen_lines(app))
        )
        assert "range 3h" in "\n".join(screen_lines(app))
        await pilot.press("t")
        assert app.range_key == "24h"


@pytest.mark.slow
async def test_console_jumps_to_a_pillar_and_a_merchant(tiny_db: Path) -> None:
    """`:pillar wecom` opens WeCom, `:pillar 4` Pay, `:merchant tea` the one merchant it names;
    an unknown pillar says so in the console's status line and stays there."""
    from ecotop.tui.screens.console import ConsoleScreen
    from ecotop.tui.screens.merchant import MerchantScreen
    from ecotop.tui.screens.pillar import PillarScreen

    app = app_for(tiny_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.refresh_count >= 1)
        await _console_line(app, pilot, ":pillar wecom")
        await until(pilot, lambda: isinstance(app.screen, PillarScreen))
        assert app.screen.pillar == "wecom"
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, ConsoleScreen))
        await _console_line(app, pilot, ":pillar nosuch")
        assert isinstance(app.screen, ConsoleScreen)
        assert "no pillar" in str(app.screen.query_one("#console-status").render())
        await _console_line(app, pilot, ":merchant tea")
        await until(pilot, lambda: isinstance(app.screen, MerchantScreen))
        assert app.screen.merchant_id == 1


NIGHT = datetime(2026, 11, 19, 18, 49, tzinfo=UTC)  # 02:49 in Shanghai: the history's quietest hour


@pytest.mark.slow
async def test_the_demo_moves_at_every_refresh_at_night(tmp_path: Path, monkeypatch) -> None:
    """#11 "the demo looks dead": at 02:49 the demo's feed ran at ~0.02 ev/s, so a 2 s refresh
    saw no new event. Now it runs at a floor rate (every 2 s brings dozens of events) and the
    status bar says `demo ×N`; a FILE with --live keeps the history's own rate and no marker."""
    import ecotop.tui.app as app_module
    from ecotop.tui.factory import DEMO_FLOOR_EVS, make_app

    demo = dashboard_data.build(tmp_path / "demo.duckdb")
    monkeypatch.setattr(app_module, "demo_path", lambda: demo)
    app = make_app(None, clock=lambda: NIGHT, rules=(), refresh_s=30.0, start_feed=False)
    try:
        assert app.feed is not None and app.demo_factor is not None and app.demo_factor > 1
        app.feed.since = NIGHT
        for i in range(1, 4):  # three refreshes of 2 s: each brings events
            n = app.feed.step(NIGHT + timedelta(seconds=2 * i))
            assert n >= DEMO_FLOOR_EVS * 2 / 4, n
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.refresh_count >= 1)
            assert f"demo ×{app.demo_factor:,.0f}" in "\n".join(screen_lines(app))
    finally:
        app.db.close()
    other = dashboard_data.build(tmp_path / "file.duckdb")
    plain = make_app(other, live=True, clock=lambda: NIGHT, rules=(), start_feed=False)
    try:
        assert plain.demo_factor is None
        plain.feed.since = NIGHT
        assert plain.feed.step(NIGHT + timedelta(seconds=2)) < DEMO_FLOOR_EVS
    finally:
        plain.db.close()


@pytest.mark.slow
async def test_console_merchant_line_with_several_matches_opens_the_list_filtered(
    tmp_path: Path,
) -> None:
    """`:merchant tea` names Tea House and Tea Garden: the merchant list opens filtered to those
    two (the `/` filter's search); `:merchant nosuch` says so and stays in the console."""
    import merchant_data

    from ecotop.tui.screens import merchants as merchants_screen
    from ecotop.tui.screens.console import ConsoleScreen
    from ecotop.tui.screens.merchants import MerchantsScreen

    merchants_screen.clear_cache()
    path = merchant_data.build_tiny(tmp_path / "tiny.duckdb")
    app = app_for(path, clock=lambda: merchant_data.END)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.refresh_count >= 1)
            await _console_line(app, pilot, ":merchant nosuch")
            await pilot.pause(0.5)
            assert isinstance(app.screen, ConsoleScreen)
            await _console_line(app, pilot, ":merchant TEA")
            await until(
                pilot,
                lambda: (
                    isinstance(app.screen, MerchantsScreen)
                    and app.screen.rows is not None
                    and len(app.screen.rows) == 2
                ),
            )
            assert app.screen.filter_text == "TEA"
            text = "\n".join(screen_lines(app))
            assert "Tea House" in text and "Tea Garden" in text and "Juice" not in text
    finally:
        merchants_screen.clear_cache()
