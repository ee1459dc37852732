"""Small ecotop files built to trip (or not) each alert rule: real schema, real rollups.

Everything is made with plain INSERT ... SELECT over range() and then `store.rollups.rebuild`, so
the rules read the same rollups the dashboard reads. Amounts are CNY 100.00 each, so a refund rate
is the share of refunded payments.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ecotop.store import create_db, open_db, rollups

END = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)  # 12:00 in Asia/Shanghai


@dataclass
class Pay:
    """Payments over [end - minutes, end): `per_min` a minute, every `fail_every`-th failed and
    every `refund_every`-th refunded (0: never)."""

    minutes: int = 120
    per_min: int = 30
    fail_every: int = 300
    refund_every: int = 50
    entry: str = "qr"


def add_payments(con, end: datetime, pay: Pay, id_base: int) -> None:
    n = pay.minutes * pay.per_min
    con.execute(
        """
        INSERT INTO transactions
        SELECT $base + i, $end - to_microseconds(((i // $per) * 60 + 1 + (i % $per) * 58 // $per)
                                              * 1000000)::INTERVAL,
               i % 5000, 1, 100.00, $entry,
               CASE WHEN $fail > 0 AND i % $fail = $fail - 1 THEN 'failed'
                    WHEN $refund > 0 AND i % $refund = $refund - 1 THEN 'refunded'
                    ELSE 'success' END,
               NULL, NULL
        FROM range($n) t(i)
        """,
        {
            "base": id_base,
            "end": end,
            "per": pay.per_min,
            "fail": pay.fail_every,
            "refund": pay.refund_every,
            "entry": pay.entry,
            "n": n,
        },
    )


def add_payscore(
    con, end: datetime, *, days: int = 32, every_min: int = 5, unpaid_every: int = 100
):
    """Pay Score orders every `every_min` minutes over `days`, completed when created and paid an hour
    later, except every `unpaid_every`-th (bad debt once 30 days old)."""
    n = days * 24 * 60 // every_min
    con.execute(
        """
        INSERT INTO payscore_orders
        SELECT i, ts, i % 5000, 1, 'power_bank', 'done', 99.00, 5.00, ts,
               CASE WHEN i % $unpaid = $unpaid - 1 THEN NULL ELSE ts + INTERVAL 1 HOUR END
        FROM (SELECT i, $end - to_microseconds((i * $every * 60 + 30) * 1000000)::INTERVAL AS ts
              FROM range($n) t(i))
        """,
        {"end": end, "every": every_min, "unpaid": unpaid_every, "n": n},
    )


def build(
    path: Path,
    *,
    end: datetime = END,
    now: Pay | list[Pay] | None = None,
    week_ago: Pay | list[Pay] | None = None,
    payscore: dict | None = None,
) -> Path:
    """A file whose newest data is just before `end`; `week_ago` adds payments ending 7 days earlier.

    By default: healthy QR and Mini Program payments for two hours and Pay Score orders for 32 days.
    """
    db = create_db(path)
    con = db.con
    con.execute(
        "INSERT INTO merchants VALUES (1, 'Test Shop', 'retail', 'Shenzhen', 'Guangdong', 1.0, $t)",
        {"t": end - timedelta(days=400)},
    )
    if now is None:
        now = [Pay(), Pay(entry="mini_program")]
    for k, pay in enumerate(now if isinstance(now, list) else [now]):
        add_payments(con, end, pay, k * 1_000_000)
    if week_ago is not None:
        for k, pay in enumerate(week_ago if isinstance(week_ago, list) else [week_ago]):
            add_payments(con, end - timedelta(days=7), pay, 10_000_000 + k * 1_000_000)
    add_payscore(con, end, **(payscore or {}))
    rollups.rebuild(con)
    db.close()
    return path


def cursor(path: Path):
    """(db, cursor) read-only on a built file."""
    db = open_db(path)
    return db, db.cursor()
