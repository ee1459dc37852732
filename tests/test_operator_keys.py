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
