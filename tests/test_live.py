"""The live event source (sample_data.live.EventStream) and store.ingest.append: the stream
continues the generated history exactly, its ids agree with the file, it is deterministic and
split-invariant, and appending its batches keeps the rollups equal to the raw rows."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from ecotop import store
from ecotop.sample_data.live import STREAM_TABLES, EventStream, natural_rate
from ecotop.store import ingest

SCALE, SEED = 0.01, 7


@pytest.fixture(scope="module")
def stream() -> EventStream:
    s = EventStream(SCALE, SEED)
    yield s
    s.close()


def q(con: Any, sql: str, params: dict[str, Any] | None = None) -> list[tuple]:
    return con.execute(sql, params or {}).fetchall()


def test_tables_have_the_schema_types(stream: EventStream, small_db: Path, small_db_end) -> None:
    batch = stream.events(small_db_end, small_db_end + timedelta(minutes=20))
    assert set(batch) == set(STREAM_TABLES)
    with store.open_db(small_db) as db:
        cur = db.cursor()
        for t, tbl in batch.items():
            want = [r[0] for r in q(cur, f"DESCRIBE {t}")]
            assert tbl.column_names == want, t
            file_schema = cur.sql(f"SELECT * FROM {t} LIMIT 0").to_arrow_table().schema
            assert tbl.schema.equals(file_schema), t
    assert batch["transactions"].num_rows > 20 and batch["app_sessions"].num_rows > 10


def test_the_stream_reproduces_the_history(
    stream: EventStream, small_db: Path, small_db_end
) -> None:
    """The same per-minute process: the stream's events of the history's last hour are the file's
    rows (ids and outcomes that lie after the file's end aside)."""
    # (live commerce blocks of the last 5 minutes straddle the end and belong to the stream)
    lo, hi = small_db_end - timedelta(hours=1), small_db_end - timedelta(minutes=5)
    batch = stream.events(lo, hi)
    cols = {
        "transactions": "ts, user_id, merchant_id, amount, entry, live_id",
        "app_sessions": "*",
        "oa_reads": "*",
        "mp_visits": "*",
        "channel_views": "*",
        "oa_follows": "*",
        "payscore_orders": "ts, user_id, merchant_id, scenario, deposit_waived, amount",
    }
    with store.open_db(small_db) as db:
        cur = db.cursor()
        for t, c in cols.items():
            cur.register("b", batch[t])
            mine = q(cur, f"SELECT {c} FROM b ORDER BY ALL")
            cur.unregister("b")
            theirs = q(
                cur,
                f"SELECT {c} FROM {t} WHERE ts >= $lo AND ts < $hi ORDER BY ALL",
                {"lo": lo, "hi": hi},
            )
            assert len(mine) > 0 and mine == theirs, t


def test_ids_agree_with_the_file(stream: EventStream, small_db: Path, small_db_end) -> None:
    batch = stream.events(small_db_end, small_db_end + timedelta(minutes=30))
    with store.open_db(small_db) as db:
        cur = db.cursor()
        for t, tbl in batch.items():
            cur.register(f"b_{t}", tbl)
        checks = {
            "tx.merchant": "SELECT count(*) FROM b_transactions ANTI JOIN merchants USING (merchant_id)",
            "tx.user": "SELECT count(*) FROM b_transactions ANTI JOIN users USING (user_id)",
            "mp": "SELECT count(*) FROM b_mp_visits v ANTI JOIN mini_programs p ON p.mp_id = v.mp_id AND p.merchant_id = v.merchant_id",
            "account": "SELECT count(*) FROM b_oa_reads r ANTI JOIN official_accounts a USING (account_id)",
            "article": """SELECT count(*) FROM b_oa_reads r ANTI JOIN
                          (SELECT article_id, account_id FROM oa_articles UNION ALL
                           SELECT article_id, account_id FROM b_oa_articles) a USING (article_id, account_id)""",
            "channel": "SELECT count(*) FROM b_channel_views ANTI JOIN channels USING (channel_id)",
            "post": """SELECT count(*) FROM b_channel_views v ANTI JOIN
                       (SELECT post_id, channel_id FROM channel_posts UNION ALL
                        SELECT post_id, channel_id FROM b_channel_posts) p USING (post_id, channel_id)
                       WHERE v.post_id IS NOT NULL""",
            "live": """SELECT count(*) FROM b_channel_views v ANTI JOIN
                       (SELECT live_id, channel_id FROM live_sessions UNION ALL
                        SELECT live_id, channel_id FROM b_live_sessions) l USING (live_id, channel_id)
                       WHERE v.live_id IS NOT NULL""",
            "corp": "SELECT count(*) FROM b_wecom_contacts c ANTI JOIN wecom_enterprises e ON e.corp_id = c.corp_id AND e.merchant_id = c.merchant_id",
            "group": "SELECT count(*) FROM b_group_members m ANTI JOIN groups g ON g.group_id = m.group_id AND g.kind = 'customer'",
            "ps.merchant": "SELECT count(*) FROM b_payscore_orders ANTI JOIN merchants USING (merchant_id)",
            "new tx ids": "SELECT count(*) FROM b_transactions JOIN transactions USING (tx_id)",
            "new articles": "SELECT count(*) FROM b_oa_articles JOIN oa_articles USING (article_id)",
        }
        for name, sql in checks.items():
            assert q(cur, sql)[0][0] == 0, name
        # the running live sessions of the file's last hour keep receiving viewers
        running = q(
            cur,
            "SELECT count(DISTINCT v.live_id) FROM b_channel_views v JOIN live_sessions l USING (live_id)",
        )[0][0]
        assert running >= 0


@pytest.mark.slow
def test_deterministic_and_split_invariant(small_db_end: datetime) -> None:
    a, b = EventStream(SCALE, SEED), EventStream(SCALE, SEED)
    lo = small_db_end + timedelta(hours=2, minutes=3, seconds=7)
    mid, hi = lo + timedelta(minutes=13, seconds=29), lo + timedelta(minutes=31)
    whole = a.events(lo, hi)
    parts = [b.events(lo, mid), b.events(mid, hi)]
    for t in STREAM_TABLES:
        joined = pa.concat_tables([p[t] for p in parts])
        assert joined.equals(whole[t]), t
    c = EventStream(SCALE, SEED + 1)
    assert not c.events(lo, hi)["transactions"].equals(whole["transactions"])
    for s in (a, b, c):
        s.close()


def test_empty_and_inverted_windows(stream: EventStream, small_db_end: datetime) -> None:
    for lo, hi in ((small_db_end, small_db_end), (small_db_end, small_db_end - timedelta(1))):
        batch = stream.events(lo, hi)
        assert all(t.num_rows == 0 for t in batch.values())


@pytest.mark.slow
def test_rate_scales_the_volume(small_db_end: datetime) -> None:
    lo, hi = small_db_end + timedelta(hours=3), small_db_end + timedelta(hours=3, minutes=20)
    base = EventStream(SCALE, SEED)
    fast = EventStream(SCALE, SEED, rate=natural_rate(SCALE) * 4)
    n0 = sum(t.num_rows for t in base.events(lo, hi).values())
    n1 = sum(t.num_rows for t in fast.events(lo, hi).values())
    assert 3.0 < n1 / n0 < 5.0
    # still the day's active users (a faster feed is more events per user, not new people)
    users = set(fast.events(lo, hi)["app_sessions"].column("user_id").to_pylist())
    assert users <= set(range(1, 10_001))
    with pytest.raises(ValueError):
        EventStream(SCALE, SEED, rate=0)
    base.close()
    fast.close()


@pytest.mark.slow
def test_new_users_and_merchants_arrive(small_db_end: datetime) -> None:
    s = EventStream(SCALE, SEED, rate=natural_rate(SCALE) * 40)
    batch = s.events(small_db_end, small_db_end + timedelta(minutes=30))
    users, merchants = batch["users"], batch["merchants"]
    assert users.num_rows >= 1
    assert min(users.column("user_id").to_pylist()) > 10_000  # beyond the file's 1..N
    if merchants.num_rows:
        assert min(merchants.column("merchant_id").to_pylist()) > 1000
    s.close()


def _copy(small_db: Path, tmp_path: Path) -> Path:
    path = tmp_path / "live.duckdb"
    shutil.copy(small_db, path)
    return path


@pytest.mark.slow
def test_append_keeps_rollups_equal_to_raw(small_db: Path, small_db_end, tmp_path: Path) -> None:
    path = _copy(small_db, tmp_path)
    with store.open_db(path, write=True) as db:
        start = ingest.next_ids(db)
        s = EventStream(SCALE, SEED, start_ids=start)
        total = 0
        t = small_db_end
        for step in (timedelta(seconds=1), timedelta(minutes=7), timedelta(minutes=15)):
            batch = s.events(t, t + step)
            n = ingest.append(db, batch)
            assert n == sum(x.num_rows for x in batch.values())
            total += n
            t += step
        assert total > 50
        cur = db.cursor()
        # dense counters continue the file's ids, and payments' members point at them
        assert q(
            cur,
            "SELECT count(*), min(tx_id), max(tx_id) FROM transactions WHERE tx_id >= $s",
            {"s": start["tx_id"]},
        )[0] == (s.next_ids["tx_id"] - start["tx_id"], start["tx_id"], s.next_ids["tx_id"] - 1)
        assert (
            q(
                cur,
                "SELECT count(*) FROM memberships m ANTI JOIN transactions t USING (tx_id) "
                "WHERE m.tx_id IS NOT NULL",
            )[0][0]
            == 0
        )
        for measure, sql in {
            "pay.gmv": "SELECT sum(amount) FROM transactions WHERE status <> 'failed'",
            "pay.attempts": "SELECT count(*) FROM transactions",
            "msg.sessions": "SELECT count(*) FROM app_sessions",
            "msg.video_calls": "SELECT count(*) FROM app_sessions WHERE video_call_minutes > 0",
            "oa.reads": "SELECT count(*) FROM oa_reads",
            "mp.visits": "SELECT count(*) FROM mp_visits",
            "ch.views": "SELECT count(*) FROM channel_views",
            "ps.orders": "SELECT count(*) FROM payscore_orders",
            "wc.contacts_added": "SELECT count(*) FROM wecom_contacts WHERE action = 'add'",
            "wc.group_joins": "SELECT count(*) FROM group_members WHERE action = 'join'",
        }.items():
            rolled = q(
                cur, "SELECT sum(value) FROM rollup_minute WHERE measure = $m", {"m": measure}
            )
            assert rolled[0][0] == q(cur, sql)[0][0], measure
        flags = q(
            cur,
            """SELECT (SELECT count(*) FROM (SELECT hour, user_id, bit_or(flags) FROM rollup_active_hour_sample
                                               WHERE hour >= $h GROUP BY ALL)),
                      (SELECT count(*) FROM (SELECT date_trunc('hour', ts), user_id FROM activity_events
                                               WHERE ts >= $h GROUP BY ALL))""",
            {"h": small_db_end},
        )[0]
        assert flags[0] == flags[1] > 0
        cur.close()
        s.close()


def test_append_is_all_or_nothing(small_db: Path, small_db_end, tmp_path: Path) -> None:
    path = _copy(small_db, tmp_path)
    with store.open_db(path, write=True) as db:
        s = EventStream(SCALE, SEED)
        batch = s.events(small_db_end, small_db_end + timedelta(minutes=10))
        cur = db.cursor()
        before = q(
            cur, "SELECT (SELECT count(*) FROM transactions), (SELECT count(*) FROM rollup_minute)"
        )
        with pytest.raises(store.StoreError):
            ingest.append(db, {**batch, "not_a_table": batch["users"]})
        with pytest.raises(store.StoreError):
            ingest.append(
                db,
                {
                    "transactions": batch["transactions"].append_column(
                        "x", pa.array([1] * batch["transactions"].num_rows)
                    )
                },
            )
        # a duplicate key fails inside the transaction: nothing of the batch stays
        ingest.append(db, batch)
        mid = q(
            cur, "SELECT (SELECT count(*) FROM transactions), (SELECT count(*) FROM rollup_minute)"
        )
        with pytest.raises(duckdb.ConstraintException):
            ingest.append(
                db, {"app_sessions": batch["app_sessions"], "transactions": batch["transactions"]}
            )
        after = q(
            cur, "SELECT (SELECT count(*) FROM transactions), (SELECT count(*) FROM rollup_minute)"
        )
        assert mid == after and mid != before
        assert ingest.append(db, {}) == 0
        cur.close()
        s.close()


def test_append_fills_missing_columns_with_null(small_db: Path, tmp_path: Path) -> None:
    path = _copy(small_db, tmp_path)
    with store.open_db(path, write=True) as db:
        tbl = pa.table(
            {
                "tx_id": pa.array([10**15], pa.int64()),
                "ts": pa.array(
                    [datetime(2026, 11, 20, 5, 0, tzinfo=UTC)], pa.timestamp("us", "UTC")
                ),
                "user_id": pa.array([1], pa.int64()),
                "merchant_id": pa.array([1], pa.int64()),
                "amount": pa.array([12.5]),
                "entry": pa.array(["qr"]),
                "status": pa.array(["success"]),
            }
        )
        assert ingest.append(db, {"transactions": tbl}) == 1
        cur = db.cursor()
        assert q(
            cur, "SELECT amount, refunded_at, live_id FROM transactions WHERE tx_id = 10^15::BIGINT"
        )[0] == (pytest.approx(12.5), None, None)
        cur.close()
