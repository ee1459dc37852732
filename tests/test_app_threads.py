"""No database, socket or disk work on the dashboard's own thread (issue #10, point 2).

The suite runs with ECOTOP_UI_THREAD_GUARD=1 (tests/conftest.py): every gateway method, guarded DuckDB
cursor call and Flight call records and raises `UIThreadViolation` when it runs on the app's thread.
These tests drive the keys that do data work and then read the record, so a violation that some
caller swallowed still fails them.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import shutil
import signal
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import dashboard_data
import pytest

from ecotop.queries.gateway import Gateway, ui_thread_violations
from ecotop.store import threadguard
from ecotop.tui.app import EcotopApp, make_app

FIXED = datetime(2026, 11, 20, 4, 0, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def tiny_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return dashboard_data.build(tmp_path_factory.mktemp("threads") / "tiny.duckdb")


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var, sub in (("HOME", ""), ("XDG_STATE_HOME", "s"), ("XDG_CONFIG_HOME", "c")):
        d = tmp_path / "home" / sub
        d.mkdir(parents=True, exist_ok=True)
        monkeypatch.setenv(var, str(d))
    monkeypatch.delenv("ECOTOP_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_DIRS", str(tmp_path / "no-system-config"))


async def wait_for(pilot, cond, timeout: float = 30.0, what: str = "condition") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not cond():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)


async def refreshed(pilot, app: EcotopApp, n: int = 1) -> None:
    target = app.refresh_count + n
    await wait_for(pilot, lambda: app.refresh_count >= target, what=f"{n} refresh(es)")


def test_the_tripwire_fires_on_the_armed_thread_only(tiny_db: Path) -> None:
    """The check itself: armed on this thread, a cursor here raises; on another thread it works."""
    # in a context of its own, as the app arms it in its own task: nothing leaks into other tests
    contextvars.copy_context().run(_tripwire, tiny_db)


def _tripwire(tiny_db: Path) -> None:
    from ecotop.queries.gateway import UIThreadViolation, open_gateway

    gw: Gateway = open_gateway(tiny_db)
    try:
        assert threadguard.enabled()
        threadguard.arm()
        try:
            with pytest.raises(UIThreadViolation):
                gw.cursor()
            with pytest.raises(UIThreadViolation):
                gw.as_of(live=False)
            assert len(ui_thread_violations()) == 2
            out: list[object] = []
            t = threading.Thread(target=lambda: out.append(gw.as_of(live=False)))
            t.start()
            t.join()
            assert isinstance(out[0], datetime)
        finally:
            threadguard.disarm()
    finally:
        gw.close()


@pytest.mark.slow
async def test_no_data_work_on_the_ui_thread_at_start_refresh_and_every_key(tiny_db: Path) -> None:
    from ecotop.tui.screens.console import ConsoleScreen
    from ecotop.tui.screens.merchants import MerchantScreen, MerchantsScreen
    from ecotop.tui.widgets.merchant_table import MerchantTable

    # default alert rules, judged every cycle: the alert path runs too
    app = make_app(tiny_db, clock=lambda: FIXED, refresh_s=30.0, alert_every_s=0)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await refreshed(pilot, app)  # start-up
            app.request_refresh()
            await refreshed(pilot, app)  # a refresh, with alert rules
            await pilot.press("t")
            await refreshed(pilot, app)  # the range changes
            await pilot.press("m")
            await wait_for(pilot, lambda: isinstance(app.screen, MerchantsScreen), what="list")
            screen = app.screen
            await wait_for(pilot, lambda: screen.data is not None, what="rows")
            screen.query_one(MerchantTable).focus()
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, MerchantScreen), what="merchant")
            detail = app.screen
            await wait_for(pilot, lambda: detail.detail is not None, what="its numbers")
            await pilot.press("escape", "escape")
            await pilot.press("colon")
            await wait_for(pilot, lambda: isinstance(app.screen, ConsoleScreen), what="console")
            console = app.screen
            console.editor.load_text("select count(*) from merchants")
            await pilot.press("ctrl+j")
            await wait_for(pilot, lambda: console.job is None and console.last_results, what="run")
            assert ui_thread_violations() == []
    finally:
        app.db.close()


@pytest.mark.slow
async def test_no_data_work_on_the_ui_thread_when_the_writer_dies(
    small_db: Path, tmp_path: Path
) -> None:
    from test_serve import start_writer, stop

    from ecotop.tui.widgets.status import StatusBar

    copy = tmp_path / "served.duckdb"
    shutil.copy(small_db, copy)
    writer = start_writer(copy)
    try:
        app = make_app(copy, rules=(), refresh_s=30.0)
        async with app.run_test(size=(120, 40)) as pilot:
            await refreshed(pilot, app)
            assert app.gateway.writer_pid == writer.pid
            os.kill(writer.pid, signal.SIGKILL)
            writer.wait()
            t0 = time.monotonic()
            await wait_for(pilot, lambda: app.gateway.writer_pid is None, what="the reopen")
            assert time.monotonic() - t0 < 5
            app.request_refresh()
            await refreshed(pilot, app)
            assert "via PID" not in app.screen.query_one(StatusBar).plain
            assert ui_thread_violations() == []
        app.db.close()
    finally:
        stop(writer)
