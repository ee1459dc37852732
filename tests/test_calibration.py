"""The sample data reproduces DESIGN.md's calibration figures as ratios, and the shapes it asks for
(daily curve, weekend lift, Zipf merchants, log-normal tickets, heavy-tailed groups capped at 500,
Pay Score collection and bad debt, the merchant closed loop, repurchase, Mini Program growth)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ecotop import store


@pytest.fixture(scope="module")
def cur(small_db: Path):
    db = store.open_db(small_db)
    c = db.cursor()
    yield c
    c.close()
    db.close()


def local(sql: str) -> str:
    """Days and hours in the display zone (connections run in UTC)."""
    return sql.replace("ts::DATE", "timezone('Asia/Shanghai', ts)::DATE").replace(
        "hour(ts)", "hour(timezone('Asia/Shanghai', ts))"
    )


def rows(cur: Any, sql: str, params: dict[str, Any] | None = None) -> list[tuple]:
    return cur.execute(local(sql), params or {}).fetchall()


def one(cur: Any, sql: str, params: dict[str, Any] | None = None) -> Any:
    return rows(cur, sql, params)[0][0]


FULL_DAYS = """(SELECT ts::DATE AS d FROM app_sessions GROUP BY 1
                ORDER BY 1 OFFSET 1 LIMIT (SELECT count(DISTINCT ts::DATE) - 2 FROM app_sessions))"""


def test_daily_pillar_shares_of_dau(cur: Any) -> None:
    days = rows(
        cur,
        f"""WITH s AS (SELECT ts::DATE AS d, user_id, video_call_minutes > 0 AS vc, moments_views > 0 AS mv,
                              moments_posts > 0 AS mp FROM app_sessions),
             a AS (SELECT d, count(DISTINCT user_id) AS dau,
                          count(DISTINCT user_id) FILTER (vc) AS callers,
                          count(DISTINCT user_id) FILTER (mv) AS viewers,
                          count(DISTINCT user_id) FILTER (mp) AS posters FROM s GROUP BY d),
             o AS (SELECT ts::DATE AS d, count(DISTINCT user_id) AS readers FROM oa_reads GROUP BY 1),
             m AS (SELECT ts::DATE AS d, count(DISTINCT user_id) AS mp_users FROM mp_visits GROUP BY 1)
        SELECT d, dau, callers / dau, viewers / dau, posters / viewers, readers / dau, mp_users / dau
        FROM a JOIN o USING (d) JOIN m USING (d) WHERE d IN {FULL_DAYS} ORDER BY d""",
    )
    assert len(days) == 59
    for d, dau, calls, viewers, posters, readers, mp_users in days:
        assert 0.20 * 10_000 < dau < 0.27 * 10_000, d
        assert calls == pytest.approx(0.30, abs=0.03), d
        assert viewers == pytest.approx(0.72, abs=0.03), d
        assert posters == pytest.approx(0.15, abs=0.02), d
        assert readers == pytest.approx(0.33, abs=0.03), d
        assert mp_users == pytest.approx(0.37, abs=0.03), d
    # every active user of every pillar is among that day's app users
    outsiders = one(
        cur,
        """SELECT count(*) FROM (SELECT DISTINCT ts::DATE AS d, user_id FROM oa_reads
                                 UNION SELECT DISTINCT ts::DATE, user_id FROM mp_visits
                                 UNION SELECT DISTINCT ts::DATE, user_id FROM transactions) x
           ANTI JOIN (SELECT DISTINCT ts::DATE AS d, user_id FROM app_sessions) s USING (d, user_id)
           WHERE d IN """
        + FULL_DAYS,
    )
    assert outsiders == 0


def test_daily_volumes_follow_scale(cur: Any) -> None:
    per_day = dict(
        rows(
            cur,
            f"""SELECT 'tx', count(*) / 59 FROM transactions WHERE ts::DATE IN {FULL_DAYS}
                UNION ALL SELECT 'sessions', count(*) / 59 FROM app_sessions WHERE ts::DATE IN {FULL_DAYS}""",
        )
    )
    assert per_day["tx"] == pytest.approx(3500, rel=0.1)  # 350k a day at scale 1
    assert per_day["sessions"] == pytest.approx(2530, rel=0.1)


def test_daily_curve_and_weekend_lift(cur: Any) -> None:
    by_hour = dict(rows(cur, "SELECT hour(ts), count(*) FROM transactions GROUP BY 1"))
    peak = max(by_hour.values())
    assert all(by_hour[h] < 0.1 * peak for h in (2, 3, 4, 5))  # trough 02:00-06:00
    for h in (8, 12, 18):  # the morning, lunch and evening peaks
        assert by_hour[h] > 3 * by_hour[4] and by_hour[h] > by_hour[h - 3]
    reads = dict(rows(cur, "SELECT hour(ts), count(*) FROM oa_reads GROUP BY 1"))
    assert max(reads, key=reads.get) in (20, 21)  # Official Account reading peaks around 21:00
    lift = one(
        cur,
        f"""SELECT avg(n) FILTER (WHERE isodow(d) >= 6) / avg(n) FILTER (WHERE isodow(d) < 6)
            FROM (SELECT ts::DATE AS d, count(*) AS n FROM transactions
                  WHERE ts::DATE IN {FULL_DAYS} GROUP BY 1)""",
    )
    assert 1.05 < lift < 1.25


def test_pay_health_does_not_fire_default_alerts(cur: Any) -> None:
    attempts, failed, refunded, paid = rows(
        cur,
        """SELECT count(*), count(*) FILTER (WHERE status = 'failed'),
                  count(*) FILTER (WHERE status = 'refunded'), count(*) FILTER (WHERE status <> 'failed')
           FROM transactions""",
    )[0]
    assert 0.003 < failed / attempts < 0.007
    assert 0.01 <= refunded / paid <= 0.03
    # the success rate of every day stays above 99% (the default alert threshold)
    worst = one(
        cur,
        """SELECT min(ok) FROM (SELECT count(*) FILTER (WHERE status <> 'failed') / count(*) AS ok
           FROM transactions GROUP BY ts::DATE)""",
    )
    assert worst >= 0.99


def test_entry_mix_and_live_commerce(cur: Any) -> None:
    mix = dict(
        rows(cur, "SELECT entry, count(*) / sum(count(*)) OVER () FROM transactions GROUP BY 1")
    )
    assert set(mix) == {"qr", "face", "mini_program", "in_app", "channels_live"}
    assert (
        mix["qr"] > 0.35
        and 0.08 < mix["mini_program"] < 0.3
        and 0.005 < mix["channels_live"] < 0.08
    )
    # channels_live payments happen during a live session of that merchant's channel
    bad = one(
        cur,
        """SELECT count(*) FROM transactions t JOIN live_sessions l USING (live_id)
           WHERE t.merchant_id <> l.merchant_id OR t.ts < l.started_at
              OR t.ts >= coalesce(l.ended_at, TIMESTAMPTZ '2100-01-01')""",
    )
    assert bad == 0


def test_ticket_sizes_are_lognormal_per_industry(cur: Any) -> None:
    mean_all, mean_mp = rows(
        cur,
        """SELECT avg(amount), avg(amount) FILTER (WHERE entry = 'mini_program')
           FROM transactions WHERE status <> 'failed'""",
    )[0]
    assert 24 <= mean_all <= 38  # about 30 CNY a payment
    assert mean_mp > mean_all  # Mini Program retail orders sit higher
    by_ind = dict(
        rows(
            cur,
            """SELECT m.industry, avg(ln(amount)) FROM transactions t JOIN merchants m USING (merchant_id)
               WHERE t.entry <> 'mini_program' GROUP BY 1""",
        )
    )
    assert by_ind["lodging"] > by_ind["apparel"] > by_ind["catering"] > by_ind["transport"]
    # log-amounts are symmetric (log-normal): mean close to median within an industry
    mean, median, sd = rows(
        cur,
        """SELECT avg(ln(amount)), median(ln(amount)), stddev(ln(amount))
           FROM transactions t JOIN merchants m USING (merchant_id)
           WHERE m.industry = 'catering' AND entry <> 'mini_program'""",
    )[0]
    assert abs(mean - median) < 0.1 * sd


def test_merchant_sizes_are_zipf(cur: Any) -> None:
    counts = [
        r[0]
        for r in rows(
            cur, "SELECT count(*) AS n FROM transactions GROUP BY merchant_id ORDER BY n DESC"
        )
    ]
    total = sum(counts)
    assert sum(counts[:10]) / total > 0.12  # the top 1% of merchants take a big share
    # rank-size slope about -1 between ranks 10 and 300
    slope = (math.log(counts[299]) - math.log(counts[9])) / (math.log(300) - math.log(10))
    assert -1.4 < slope < -0.6
    # size_weight ranks merchants the same way their payments do
    corr = one(
        cur,
        """SELECT corr(ln(m.size_weight), ln(t.n)) FROM merchants m
           JOIN (SELECT merchant_id, count(*) AS n FROM transactions GROUP BY 1) t USING (merchant_id)""",
    )
    assert corr > 0.8


def test_groups_are_heavy_tailed_and_capped(cur: Any) -> None:
    mx, median, mean, small = rows(
        cur,
        "SELECT max(member_count), median(member_count), avg(member_count), "
        "avg((member_count <= 50)::INT) FROM groups",
    )[0]
    assert mx <= 500 and median < mean and small > 0.7
    kinds = dict(rows(cur, "SELECT kind, count(*) FROM groups GROUP BY 1"))
    assert kinds["customer"] > 0 and kinds["chat"] > 0
    assert (
        one(cur, "SELECT count(*) FROM groups WHERE kind = 'customer' AND merchant_id IS NULL") == 0
    )
    # no customer group ever holds more than 500 members, counting its joins and leaves
    over = one(
        cur,
        """SELECT count(*) FROM (
             SELECT g.group_id, g.member_count, sum(CASE m.action WHEN 'join' THEN 1 ELSE -1 END) AS net
             FROM groups g JOIN group_members m USING (group_id) GROUP BY ALL)
           WHERE member_count - net + greatest(net, 0) > 500""",
    )
    assert over == 0


def test_pay_score_collection_and_bad_debt(cur: Any) -> None:
    stats = {
        r[0]: r[1:]
        for r in rows(
            cur,
            """SELECT scenario,
                      count(*) FILTER (WHERE paid_at IS NULL) / count(*) AS bad_debt,
                      count(*) FILTER (WHERE paid_at < completed_at + INTERVAL 1 DAY) / count(*) AS d0
               FROM payscore_orders
               WHERE state = 'done' AND completed_at < (SELECT max(ts) FROM payscore_orders) - INTERVAL 30 DAY
               GROUP BY 1""",
        )
    }
    assert set(stats) == {
        "power_bank",
        "ride_hailing",
        "bike_sharing",
        "lodging",
        "car_rental",
        "courier",
    }
    for s in ("power_bank", "ride_hailing"):
        assert 0.01 < stats[s][0] < 0.08, s
    assert stats["bike_sharing"][0] < 0.005
    assert all(d0 > 0.85 for _, d0 in stats.values())
    states = dict(rows(cur, "SELECT state, count(*) FROM payscore_orders GROUP BY 1"))
    assert {"done", "revoked", "expired"} <= set(states)


def test_closed_loop_funnel_and_repurchase(cur: Any) -> None:
    steps = dict(
        rows(
            cur,
            """SELECT step, count(DISTINCT user_id) FROM touchpoints
               WHERE merchant_id = (SELECT merchant_id FROM transactions GROUP BY 1 ORDER BY count(*) DESC LIMIT 1)
               GROUP BY 1""",
        )
    )
    assert set(steps) >= {
        "oa_read",
        "mp_visit",
        "order",
        "pay",
        "member",
        "wecom_add",
        "group_join",
        "live_view",
    }
    assert steps["pay"] <= steps["order"]
    assert steps["member"] < steps["pay"] and steps["wecom_add"] < steps["pay"]
    assert steps["group_join"] <= steps["wecom_add"]
    # repurchase within 30 days of the first paid order, across merchants: 20-50%
    rate = one(
        cur,
        """WITH p AS (SELECT merchant_id, user_id, ts FROM transactions WHERE status <> 'failed'),
                f AS (SELECT merchant_id, user_id, min(ts) AS first FROM p GROUP BY ALL
                      HAVING min(ts) < (SELECT max(ts) FROM p) - INTERVAL 30 DAY)
           SELECT avg((EXISTS (SELECT 1 FROM p WHERE p.merchant_id = f.merchant_id AND p.user_id = f.user_id
                                AND p.ts > f.first AND p.ts < f.first + INTERVAL 30 DAY))::INT) FROM f""",
    )
    assert 0.2 <= rate <= 0.5
    pay_after = one(cur, "SELECT avg((channel = 'pay_after')::INT) FROM memberships")
    assert 0.5 < pay_after < 0.9


def test_mini_program_gmv_grows_gently(cur: Any, small_db_end: datetime) -> None:
    def gmv(lo: datetime, hi: datetime) -> float:
        return float(
            one(
                cur,
                """SELECT sum(amount) FROM transactions WHERE entry = 'mini_program'
                   AND status <> 'failed' AND ts >= $lo AND ts < $hi""",
                {"lo": lo, "hi": hi},
            )
        )

    first = gmv(small_db_end - timedelta(days=56), small_db_end - timedelta(days=42))
    last = gmv(small_db_end - timedelta(days=14), small_db_end)
    assert 1.05 < last / first < 1.6


def test_users_repeat_within_the_hour(cur: Any) -> None:
    """Unique payers are fewer than payments in busy hours (people pay twice), MP users fewer than
    visits, Pay Score users fewer than orders: what per-user-per-day ratios imply (#11)."""

    def hourly(table: str, least: int) -> list[tuple[int, int]]:
        return rows(
            cur,
            f"""SELECT count(*), count(DISTINCT user_id) FROM {table}
                GROUP BY date_trunc('hour', ts) HAVING count(*) >= {least}""",
        )

    tx = hourly("transactions", 30)
    assert len(tx) > 500
    share = sorted(u / n for n, u in tx)
    assert 0.80 < share[len(share) // 2] < 0.97
    assert sum(u < n for n, u in tx) > 0.95 * len(tx)
    mp = sorted(u / n for n, u in hourly("mp_visits", 20))
    assert 0.55 < mp[len(mp) // 2] < 0.85
    ps = hourly("payscore_orders", 3)
    assert sum(n - u for n, u in ps) > 0.03 * sum(n for n, _ in ps)


def test_branch_names_are_districts_of_their_city(cur: Any) -> None:
    from ecotop.sample_data.model import CITY_DISTRICTS

    named = rows(
        cur,
        "SELECT city, regexp_extract(name, '·(.+)店$', 1) FROM merchants WHERE name LIKE '%·%店'",
    )
    assert len(named) > 100
    wrong = [(c, d) for c, d in named if d not in CITY_DISTRICTS[c]]
    assert wrong == []
    assert {c for c, d in named if d == "黄浦"} <= {"Shanghai"}
