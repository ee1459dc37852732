"""A tiny, hand-made ecotop file for the dashboard tests: real schema, real rollups, known numbers.

Payments: one a minute for the 6 hours before END (CNY 10.00 + minute % 7), every 10th failed;
app sessions: two a minute by users 0..59. Made with plain SQL and `store.rollups.rebuild`, so the
dashboard reads the same rollups it reads for generated files. `generated` is set so `--live`
accepts it (a live test swaps the simulator for a fake stream).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from ecotop.store import create_db, rollups

END = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)  # 12:00 in Asia/Shanghai
MINUTES = 6 * 60


def build(path: Path, *, end: datetime = END, generated: bool = True) -> Path:
    db = create_db(path, overwrite=True)
    con = db.con
    try:
        meta = {"scale": "0.001", "seed": "7", "display_zone": "Asia/Shanghai"}
        if generated:
            meta["generated"] = "true"
        for k, v in meta.items():
            con.execute("INSERT OR REPLACE INTO ecotop_meta VALUES ($k, $v)", {"k": k, "v": v})
        con.execute(
            "INSERT INTO merchants VALUES (1, 'Tea House', 'food', 'Shanghai', 'Shanghai', 1.0, $t)",
            {"t": end - timedelta(days=90)},
        )
        con.execute(
            """
            INSERT INTO transactions
            SELECT i, $end - to_microseconds((i * 60 + 30) * 1000000)::INTERVAL, i % 40, 1,
                   (10 + i % 7)::DECIMAL(18, 2),
                   CASE i % 3 WHEN 0 THEN 'qr' WHEN 1 THEN 'mini_program' ELSE 'face' END,
                   CASE WHEN i % 10 = 9 THEN 'failed' ELSE 'success' END, NULL, NULL
            FROM range($n) t(i)
            """,
            {"end": end, "n": MINUTES},
        )
        con.execute(
            """
            INSERT INTO app_sessions
            SELECT $end - to_microseconds((i * 30 + 5) * 1000000)::INTERVAL, i % 60, 2, 5,
                   CASE WHEN i % 5 = 0 THEN 3.0 ELSE 0 END, 1, CASE WHEN i % 9 = 0 THEN 1 ELSE 0 END
            FROM range($n) t(i)
            """,
            {"end": end, "n": MINUTES * 2},
        )
        rollups.rebuild(con)
        con.execute("CHECKPOINT")
    finally:
        db.close()
    return path


def count_paid(path: Path, start: datetime, end: datetime) -> int:
    """Paid payments in [start, end), counted straight from the raw table (not the rollups)."""
    from ecotop.store import open_db

    db = open_db(path)
    try:
        cur = db.cursor()
        return cur.execute(
            "SELECT count(*) FROM transactions WHERE status <> 'failed' AND ts >= $s AND ts < $e",
            {"s": start, "e": end},
        ).fetchall()[0][0]
    finally:
        db.close()
