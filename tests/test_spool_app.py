"""`ecotop FILE --spool DIR`: the dashboard ingests the spool on its own thread while it shows."""

from __future__ import annotations

import shutil
import time
from datetime import timedelta
from pathlib import Path

import pytest
from spool_events import T0, EventMaker, make_db
from test_app import refreshed, status, tile

from ecotop.sample_data.producer import write_file
from ecotop.tui.app import make_app


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("spool_app") / "t.duckdb"
    make_db(path)
    return path


def _paid(batches) -> int:
    n = 0
    for b in batches:
        t = b.get("transaction")
        if t is not None:
            n += sum(1 for s in t.column("status").to_pylist() if s != "failed")
    return n


@pytest.mark.slow
async def test_spooled_events_show_on_the_tiles(template: Path, tmp_path: Path) -> None:
    db = tmp_path / "t.duckdb"
    shutil.copy(template, db)
    spool = tmp_path / "spool"
    spool.mkdir()
    now = [T0 + timedelta(minutes=10)]
    app = make_app(
        db,
        spool=spool,
        clock=lambda: now[0],
        rules=(),
        refresh_s=30,
        range_key="15m",
        start_feed=False,
        serve=False,
    )
    feed = app.feed
    assert feed is not None and not app.db.read_only
    mk = EventMaker(21)
    batches = [mk.batch(400, T0 + timedelta(minutes=2 * i)) for i in range(3)]
    async with app.run_test(size=(120, 40)) as pilot:
        await refreshed(pilot, app)
        for b in batches:
            write_file(spool, b, "parquet")
        assert feed.step() == sum(sum(t.num_rows for t in b.values()) for b in batches)
        n = app.refresh_count
        await pilot.press("r")
        await refreshed(pilot, app, since=n)
        # the history's payments in the window plus the spooled ones
        history = (
            app.db.cursor()
            .execute(
                "SELECT count(*) FROM transactions WHERE status <> 'failed' AND ts >= $s AND ts < $e "
                "AND tx_id < 100000",
                {"s": now[0] - timedelta(minutes=15), "e": now[0]},
            )
            .fetchall()[0][0]
        )
        assert tile(app, "pay.transactions").state.value == f"{history + _paid(batches):,}"
        assert "LIVE" in status(app)
    app.db.close()


async def test_the_feed_thread_ingests_and_is_joined_on_quit(
    template: Path, tmp_path: Path
) -> None:
    db = tmp_path / "t.duckdb"
    shutil.copy(template, db)
    spool = tmp_path / "spool"
    spool.mkdir()
    app = make_app(db, spool=spool, rules=(), refresh_s=30, serve=False)
    mk = EventMaker(22)
    async with app.run_test(size=(120, 40)) as pilot:
        await refreshed(pilot, app)
        for i in range(3):
            write_file(spool, mk.batch(300, T0 + timedelta(minutes=i)), "ndjson")
        deadline = time.monotonic() + 30
        while app.feed.files < 3 and time.monotonic() < deadline:
            await pilot.pause(0.05)
        assert app.feed.files == 3 and app.feed.error is None
        await pilot.press("q")
    app.shutdown()
    assert not app.feed.running
    log = app.db.cursor().execute("SELECT outcome, count(*) FROM ingest_log GROUP BY 1").fetchall()
    assert log == [("ingested", 3)]
    app.db.close()


@pytest.mark.slow
async def test_quitting_mid_file_leaves_the_file_all_in_or_all_out(
    template: Path, tmp_path: Path
) -> None:
    """Quit while a big file is being ingested: it is either all in (and in done/) or untouched."""
    db = tmp_path / "t.duckdb"
    shutil.copy(template, db)
    spool = tmp_path / "spool"
    spool.mkdir()
    app = make_app(db, spool=spool, rules=(), refresh_s=30, serve=False)
    batch = EventMaker(23).batch(20_000, T0)
    before = app.db.cursor().execute("SELECT count(*) FROM app_sessions").fetchall()[0][0]
    async with app.run_test(size=(120, 40)) as pilot:
        await refreshed(pilot, app)
        path = write_file(spool, batch, "ndjson")
        await pilot.pause(0.3)  # the feed has picked it up and is mid-way
        await pilot.press("q")
    app.shutdown()
    cur = app.db.cursor()
    sessions = cur.execute("SELECT count(*) FROM app_sessions").fetchall()[0][0] - before
    logged = cur.execute("SELECT count(*) FROM ingest_log WHERE outcome = 'ingested'").fetchall()[
        0
    ][0]
    if (spool / "done" / path.name).exists():
        assert logged == 1 and sessions == batch["session"].num_rows
    else:
        assert path.exists() and logged == 0 and sessions == 0
    app.db.close()
