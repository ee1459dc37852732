"""Databases for the merchant tests: the generated sample (scale 0.01, seed 7, 60 days to
2026-11-20T12:00+08:00, made once per test session) and a tiny hand-made one with names that test the
filter (quotes, %, _, SQL, CJK) and a merchant without any activity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ecotop.store import create_db, rollups

END = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)  # 12:00 in Asia/Shanghai


def generated(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared generated file: the `small_db` fixture when the suite has one, else made here once
    per session (about a minute)."""
    try:
        return Path(request.getfixturevalue("small_db"))
    except Exception:
        pass
    path = tmp_path_factory.getbasetemp() / "merchant-small.duckdb"
    if not path.exists():
        from ecotop.sample_data import generate

        generate(path, scale=0.01, seed=7, days=60, end=END)
    return path


# The tiny file: (merchant_id, name, industry, city).
TINY_MERCHANTS: list[tuple[int, str, str, str]] = [
    (1, "Tea House", "catering", "Shanghai"),
    (2, "100% Juice_Bar", "beverage", "Beijing"),
    (3, "O'Brien's Deli", "catering", "Shenzhen"),
    (4, "'; DROP TABLE merchants; --", "retail", "Hangzhou"),
    (5, "和源饺子馆·黄浦店", "catering", "Shanghai"),
    (6, "Sleepy Shop", "retail", "Wuhan"),  # no activity at all
    (7, "Tea Garden", "catering", "Suzhou"),
    (8, "[bold]Markup[/bold] Mart", "retail", "Xi'an"),
]


def build_tiny(path: Path, end: datetime = END) -> Path:
    """Payments every 7 minutes over 3 days for merchants 1-5, 7, 8 (merchant 1 largest), a member, an
    Official Account read, a visit, a live and a customer group for merchant 1; merchant 6 none."""
    db = create_db(path, overwrite=True)
    con = db.con
    try:
        for k, v in {"scale": "0.001", "seed": "1", "display_zone": "Asia/Shanghai"}.items():
            con.execute("INSERT OR REPLACE INTO ecotop_meta VALUES ($k, $v)", {"k": k, "v": v})
        created = end - timedelta(days=400)
        for mid, name, industry, city in TINY_MERCHANTS:
            con.execute(
                "INSERT INTO merchants VALUES ($m, $n, $i, $c, 'p', 1.0, $t)",
                {"m": mid, "n": name, "i": industry, "c": city, "t": created},
            )
        con.execute(
            """
            INSERT INTO transactions
            SELECT i, $end - to_microseconds((i * 7 * 60 + 13) * 1000000)::INTERVAL,
                   100 + i % 9,
                   CASE WHEN i % 3 = 0 THEN 1 ELSE [2, 3, 4, 5, 7, 8][1 + i % 6] END,
                   (5 + i % 11)::DECIMAL(18, 2),
                   ['qr', 'face', 'mini_program', 'in_app', 'channels_live'][1 + i % 5],
                   CASE WHEN i % 13 = 0 THEN 'failed' WHEN i % 17 = 0 THEN 'refunded' ELSE 'success' END,
                   NULL, CASE WHEN i % 5 = 4 AND i % 3 = 0 THEN 1 END
            FROM range(0, 3 * 24 * 60 // 7) t(i)
            """,
            {"end": end},
        )
        con.execute(
            "INSERT INTO memberships VALUES (1, 100, $t, 'pay_after', NULL), (1, 101, $u, 'wecom', NULL)",
            {"t": end - timedelta(hours=30), "u": end - timedelta(minutes=50)},
        )
        con.execute(
            "INSERT INTO official_accounts VALUES (1, 1, 'Tea House OA', $t)", {"t": created}
        )
        con.execute(
            "INSERT INTO oa_articles VALUES (1, 1, $t, 100, 'news')",
            {"t": end - timedelta(hours=5)},
        )
        con.execute(
            "INSERT INTO oa_reads VALUES ($t, 1, 1, 100, false), ($u, 1, 1, 102, true)",
            {"t": end - timedelta(hours=4), "u": end - timedelta(minutes=20)},
        )
        con.execute("INSERT INTO mini_programs VALUES (1, 1, 'Tea House MP', 'catering')")
        con.execute(
            "INSERT INTO mp_visits VALUES ($t, 1, 1, 100, 3, 60), ($u, 1, 1, 103, 1, 5)",
            {"t": end - timedelta(hours=3), "u": end - timedelta(minutes=10)},
        )
        con.execute(
            "INSERT INTO channels VALUES (1, 1, 'Tea House live', 1000, $t)", {"t": created}
        )
        con.execute(
            "INSERT INTO live_sessions VALUES (1, 1, 1, $t, $u, 42)",
            {"t": end - timedelta(hours=6), "u": end - timedelta(hours=5)},
        )
        con.execute(
            "INSERT INTO channel_views VALUES ($t, 100, 1, NULL, 1, 120, true), ($t, 104, 1, NULL, 1, 30, false)",
            {"t": end - timedelta(hours=5, minutes=30)},
        )
        con.execute(
            "INSERT INTO groups VALUES (1, 'customer', 1, 500, $t, 'VIP'), (2, 'customer', 1, 37, $t, 'New')",
            {"t": created},
        )
        con.execute(
            "INSERT INTO group_members VALUES ($t, 1, 100, 'join'), ($t, 2, 105, 'leave')",
            {"t": end - timedelta(hours=2)},
        )
        con.execute(
            "INSERT INTO wecom_messages VALUES ($t, 1, 1, 500, 490, 12)",
            {"t": end - timedelta(hours=1, minutes=30)},
        )
        rollups.rebuild(con)
        con.execute("CHECKPOINT")
    finally:
        db.close()
    return path


def as_dict(rows: list[dict[str, Any]], key: str) -> dict[Any, dict[str, Any]]:
    return {r[key]: r for r in rows}
