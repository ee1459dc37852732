"""Issue #11: every screen at 80, 100, 120 and 200 columns, read as the terminal shows it.

What an operator notices on screen, checked on the rendered lines (cell-accurate, so CJK names count
two cells): the key hints fit and start with `? Help`; no label touches its value (`deposit¥37K`);
money is never cut (`¥1,224.…`); boxes keep their right border in line (a value one cell too wide
pushes its row's border out).
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from pathlib import Path

import dashboard_data
import pytest
from rich.cells import cell_len

from ecotop.tui.app import EcotopApp, make_app

FIXED = datetime(2026, 11, 20, 4, 0, 30, tzinfo=UTC)
WIDTHS = (80, 100, 120, 200)
HEIGHT = {80: 24, 100: 30, 120: 40, 200: 60}

# key presses from the overview -> the screen to read
SCREENS: dict[str, list[str]] = {
    "overview": [],
    **{f"pillar{n}": [str(n)] for n in range(1, 8)},
    "merchants": ["m"],
    "merchant": ["m", "@list", "enter"],
    "alerts": ["a"],
    "help": ["question_mark"],
}


@pytest.fixture(scope="module", params=["tiny", "generated"])
def db_file(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A hand-made file and the generated sample (real magnitudes: ¥ in thousands, CJK names)."""
    if request.param == "tiny":
        return dashboard_data.build(tmp_path_factory.mktemp("text") / "tiny.duckdb")
    import merchant_data

    return merchant_data.generated(request, tmp_path_factory)


def cells(app: EcotopApp) -> list[list[str]]:
    """The screen as rows of cells: a wide character fills its cell and leaves "" in the next."""
    rows = []
    for strip in app.screen._compositor.render_strips():
        row: list[str] = []
        for seg in strip:
            for ch in seg.text:
                row.append(ch)
                if cell_len(ch) == 2:
                    row.append("")
        rows.append(row)
    return rows


def line(row: list[str]) -> str:
    return "".join(row)


GLUED = re.compile(r"[A-Za-z\u4e00-\u9fff)]¥")  # a label touching its money
CUT_MONEY = re.compile(r"¥[\d.,]*…")


def problems(rows: list[list[str]], hints: bool) -> list[str]:
    out = []
    text = [line(r) for r in rows]
    for i, t in enumerate(text):
        if GLUED.search(t):
            out.append(f"line {i}: label touches its value: {t.strip()!r}")
        if CUT_MONEY.search(t):
            out.append(f"line {i}: money cut: {t.strip()!r}")
    # boxes: every row between ╭...╮ and ╰...╯ has │ (or a border glyph) at both edges
    edge = set("│┃║┤├┫┣╢╟▏▕█▌▐") | {"", " "}
    for i, row in enumerate(rows):
        for c, ch in enumerate(row):
            if ch != "╭":
                continue
            try:
                right = row.index("╮", c + 1)
            except ValueError:
                continue
            for j in range(i + 1, len(rows)):
                r = rows[j]
                if c < len(r) and r[c] == "╰":
                    if right < len(r) and r[right] != "╯":
                        out.append(f"line {j}: box bottom from column {c} ends off {right}")
                    break
                if right >= len(r) or r[right] not in edge or r[c] not in edge:
                    out.append(f"line {j}: box from column {c} lost its right border at {right}")
                    break
    if hints:
        last = text[-1].rstrip()
        if not last.lstrip().startswith("? Help"):
            out.append(f"key hints do not start with ? Help: {last!r}")
        if "▏" in last or last.endswith("…"):
            out.append(f"key hints cut: {last!r}")
    return out


async def _open(pilot, app: EcotopApp, keys: list[str]) -> None:
    from ecotop.tui.screens.merchants import MerchantsScreen

    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while app.refresh_count < 1:
        assert loop.time() < deadline
        await pilot.pause(0.05)
    for key in keys:
        if key == "@list":
            while not (isinstance(app.screen, MerchantsScreen) and app.screen.view is not None):
                assert loop.time() < deadline
                await pilot.pause(0.05)
            continue
        await pilot.press(key)
    await pilot.pause(0.3)
    start = app.refresh_count
    while app.refresh_count <= start and loop.time() < deadline:
        app.action_refresh_now()
        await pilot.pause(0.1)
    await pilot.pause(0.3)


@pytest.mark.slow
@pytest.mark.parametrize("width", WIDTHS)
async def test_every_screen_reads_right_at_every_width(db_file: Path, width: int) -> None:
    failures: list[str] = []
    for name, keys in SCREENS.items():
        app = make_app(db_file, clock=lambda: FIXED, rules=None, refresh_s=3600.0)
        try:
            async with app.run_test(size=(width, HEIGHT[width])) as pilot:
                await _open(pilot, app, keys)
                hints = name not in ("help", "alerts")
                failures += [f"{name}@{width}: {p}" for p in problems(cells(app), hints)]
        finally:
            app.db.close()
    assert not failures, "\n".join(failures)
