"""The dashboard on a lake: the same tiles as on the file, and a catalog restart ridden out."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from spool_events import make_db

from ecotop.store import lake
from ecotop.tui.app import EcotopApp, make_app
from ecotop.tui.widgets.kpi import KpiTile
from ecotop.tui.widgets.status import StatusBar

pytestmark = pytest.mark.slow


def _app(target: str | Path) -> EcotopApp:
    return make_app(target, rules=(), refresh_s=30.0)


async def _refreshed(pilot: Any, app: EcotopApp, since: int, timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while app.refresh_count <= since:
        if loop.time() > deadline:
            raise AssertionError(f"no refresh after {timeout}s")
        await pilot.pause(0.05)
    await pilot.pause()


def _tiles(app: EcotopApp) -> dict[str, str]:
    return {str(t.id): str(t.state.value) for t in app.screen.query(KpiTile)}


def _status(app: EcotopApp) -> str:
    return str(app.screen.query_one(StatusBar).plain)


async def test_the_overview_on_a_lake_shows_the_files_numbers(
    sample_file: Path, sample_lake: Any
) -> None:
    shown: list[dict[str, str]] = []
    for target in (sample_file, sample_lake.uri):
        app = _app(target)
        async with app.run_test(size=(140, 45)) as pilot:
            await _refreshed(pilot, app, 0)
            assert app.last_error is None, app.last_error
            shown.append(_tiles(app))
    assert len(shown[0]) >= 20
    assert any(v not in ("0", "—", "…") for v in shown[0].values())
    assert shown[1] == shown[0]


async def test_a_catalog_restart_shows_in_the_status_bar_and_recovers_by_itself(
    private_postgres: Any, tmp_path: Path
) -> None:
    pg = private_postgres
    pg.sql("DROP DATABASE IF EXISTS lake_dash")
    pg.sql("CREATE DATABASE lake_dash")
    uri = f"ducklake:postgres:{pg.libpq('lake_dash')}"
    base = tmp_path / "base.duckdb"
    make_db(base)
    lake.init_lake(uri, tmp_path / "data").close()
    lake.import_file(base, uri)
    app = _app(uri)
    async with app.run_test(size=(140, 45)) as pilot:
        await _refreshed(pilot, app, 0)
        before = _tiles(app)
        assert app.last_error is None
        await asyncio.to_thread(pg.stop)
        try:
            n = app.refresh_count
            app.action_refresh_now()
            await _refreshed(pilot, app, n)
            assert app.last_error is not None
            assert "Postgres" in _status(app) or "catalog" in _status(app), _status(app)
        finally:
            await asyncio.to_thread(pg.start)
        n = app.refresh_count
        app.action_refresh_now()
        await _refreshed(pilot, app, n)
        assert app.last_error is None, app.last_error
        assert _tiles(app) == before
