"""Snapshots of the overview and a pillar view at 80x24 and 200x60 (and the overview with NO_COLOR).

Deterministic: the generated `small_db` file, a fixed clock, no live thread, no alert rules, timing
text hidden (`show_timing=False`), and the screenshot taken after the refresh cycle finished.
Update with `pytest tests/test_dashboard_snapshots.py --snapshot-update` after looking at the report.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ecotop.tui.app import EcotopApp, make_app


def _app(small_db: Path, small_db_end, **kw) -> EcotopApp:
    return make_app(
        small_db,
        clock=lambda: small_db_end,
        rules=(),
        refresh_s=3600,
        show_timing=False,
        watchdog=False,
        **kw,
    )


async def _settled(pilot, count: int = 1) -> None:
    app = pilot.app
    for _ in range(600):
        if app.refresh_count >= count and not app._inflight:
            break
        await asyncio.sleep(0.05)
    await pilot.pause(0.3)


def _pillar(key: str):
    async def run_before(pilot) -> None:
        await _settled(pilot)
        await pilot.press(key)
        await _settled(pilot, 2)

    return run_before


@pytest.mark.slow
@pytest.mark.parametrize("size", [(80, 24), (200, 60)], ids=["80x24", "200x60"])
def test_overview(snap_compare, small_db: Path, small_db_end, size) -> None:
    app = _app(small_db, small_db_end)
    try:
        assert snap_compare(app, terminal_size=size, run_before=_settled)
    finally:
        app.db.close()


@pytest.mark.slow
@pytest.mark.parametrize("size", [(80, 24), (200, 60)], ids=["80x24", "200x60"])
def test_pay_view(snap_compare, small_db: Path, small_db_end, size) -> None:
    app = _app(small_db, small_db_end, range_key="24h")
    try:
        assert snap_compare(app, terminal_size=size, run_before=_pillar("4"))
    finally:
        app.db.close()


def test_overview_no_color(snap_compare, small_db: Path, small_db_end, monkeypatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = _app(small_db, small_db_end)
    try:
        assert snap_compare(app, terminal_size=(80, 24), run_before=_settled)
    finally:
        app.db.close()
