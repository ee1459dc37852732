"""The live path: the simulator thread, and simulated events reaching the tiles.

The clock is injected and the feed is stepped by hand, so the numbers are deterministic; the
expected figures are counted from the very batches that were appended, not from the database.
"""

from __future__ import annotations

import shutil
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from test_app import refreshed, status, tile

from ecotop.tui.app import make_app
from ecotop.tui.live import LiveFeed, batch_rows


class FakeStream:
    """A thousand rows a second of one made-up table, as EventStream would return them."""

    def __init__(self) -> None:
        self.calls: list[tuple[datetime, datetime]] = []

    def events(self, start: datetime, end: datetime) -> dict[str, pa.Table]:
        self.calls.append((start, end))
        n = int((end - start).total_seconds() * 1000)
        return {"app_sessions": pa.table({"x": list(range(n))})}


def test_the_feed_thread_appends_until_stopped_and_is_joined() -> None:
    appended: list[int] = []
    stream = FakeStream()
    feed = LiveFeed(
        object(), stream, interval_s=0.05, append=lambda db, b: appended.append(batch_rows(b))
    )
    feed.start()
    time.sleep(0.5)
    assert feed.running
    assert threading.current_thread().name != "ecotop-live"
    feed.stop()
    assert not feed.running
    n = feed.total
    assert n == sum(appended) and n > 0
    time.sleep(0.2)
    assert feed.total == n  # nothing after stop
    # consecutive windows, no gaps or overlaps
    for (_, e1), (s2, _) in zip(stream.calls, stream.calls[1:], strict=False):
        assert e1 == s2
    assert feed.events_per_s() > 0
    assert feed.error is None


def test_a_failing_append_stops_the_feed_and_is_reported() -> None:
    def boom(db, batch):
        raise RuntimeError("disk full")

    errors: list[BaseException] = []
    feed = LiveFeed(object(), FakeStream(), interval_s=0.02, append=boom, on_error=errors.append)
    feed.start()
    time.sleep(0.3)
    feed.stop()
    assert isinstance(feed.error, RuntimeError)
    assert errors and "disk full" in str(errors[0])


@pytest.mark.slow
async def test_simulated_events_show_on_the_tiles(small_db: Path, small_db_end, tmp_path) -> None:
    pytest.importorskip("ecotop.sample_data.live")
    pytest.importorskip("ecotop.store.ingest")
    copy = tmp_path / "live.duckdb"
    shutil.copy(small_db, copy)
    t0 = small_db_end.astimezone(UTC) + timedelta(hours=3)  # the 15m window holds only live events
    now = [t0]
    app = make_app(
        copy,
        live=True,
        clock=lambda: now[0],
        rules=(),
        refresh_s=30,
        range_key="15m",
        start_feed=False,
        serve=False,
    )
    feed = app.feed
    assert feed is not None and not app.db.read_only
    batches: list[dict[str, pa.Table]] = []
    real_events = feed.stream.events

    def recording(start, end):
        batch = real_events(start, end)
        batches.append(batch)
        return batch

    feed.stream.events = recording
    feed.since = t0
    async with app.run_test(size=(120, 40)) as pilot:
        await refreshed(pilot, app)
        for minute in range(1, 6):  # five one-minute batches, appended with their rollups
            now[0] = t0 + timedelta(minutes=minute)
            feed.step()
        n = app.refresh_count
        await pilot.press("r")
        await refreshed(pilot, app, since=n)
        tx = pa.concat_tables([b["transactions"] for b in batches])
        paid = sum(1 for s in tx.column("status").to_pylist() if s != "failed")
        gmv = sum(
            float(a)
            for a, s in zip(
                tx.column("amount").to_pylist(), tx.column("status").to_pylist(), strict=True
            )
            if s != "failed"
        )
        assert paid > 0
        assert tile(app, "pay.transactions").state.value == f"{paid:,}"
        from ecotop.tui.widgets.format import format_value

        assert tile(app, "pay.gmv").state.value == format_value("money", gmv)
        assert "● LIVE" in status(app)
        assert app.current_as_of() == now[0]
    app.db.close()


async def test_a_stopped_feed_says_so_in_the_status_bar(tiny_db_live: Path) -> None:
    from test_app import status

    now = [datetime(2026, 11, 20, 6, 0, tzinfo=UTC)]
    app = make_app(
        tiny_db_live,
        live=True,
        clock=lambda: now[0],
        rules=(),
        refresh_s=0.2,
        start_feed=False,
        serve=False,
    )
    app.feed.error = RuntimeError("Binder Error: table has 8 columns\nmore")
    app.feed.last_event_until = now[0] - timedelta(minutes=5)
    async with app.run_test(size=(160, 30)) as pilot:
        await refreshed(pilot, app)
        text = status(app)
        assert "✖ live feed stopped: Binder Error: table has 8 columns" in text
        assert "⚠ stale since" in text
    app.db.close()


@pytest.fixture
def tiny_db_live(tmp_path: Path) -> Path:
    import dashboard_data

    return dashboard_data.build(tmp_path / "live.duckdb")
