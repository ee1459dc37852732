"""The catalogue of headline measures: one contract for the screen, `kpis`, `check` and the tests.

A measure is read from its pillar's `headline` query (a column), from the distinct-user counts of
`users/active` (a flag), or derived from other values of the same window (a ratio of users).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

Kind = Literal["count", "money", "rate", "ratio", "number"]

PILLARS: dict[str, str] = {
    "messaging": "Messaging & social",
    "official_accounts": "Official Accounts",
    "mini_programs": "Mini Programs",
    "pay": "Pay",
    "pay_score": "Pay Score",
    "wecom": "WeCom",
    "channels": "Channels",
}

Values = dict[str, object]


@dataclass(frozen=True)
class MeasureDef:
    """How one headline measure is defined, read and shown.

    kind: count (integer), money (CNY Decimal), rate (fraction 0..1, shown as %), ratio (per-user
    or per-item figure), number (a sum that is not a count, e.g. minutes). `users` marks distinct-user
    measures (approximate beyond 24h). `good` says which direction is healthy ("up", "down" or None).
    """

    pillar: str
    key: str
    label: str
    kind: Kind
    definition: str
    column: str | None = None  # a column of <pillar>/headline
    flag: str | None = None  # a flag of users/active
    derive: Callable[[Values], object] | None = None
    good: str | None = "up"
    headline: bool = True  # shown on the overview tile

    @property
    def users(self) -> bool:
        return self.flag is not None or self.key in _USER_DERIVED

    @property
    def id(self) -> str:
        return f"{self.pillar}.{self.key}"


def _div(a: object, b: object) -> float | None:
    if a is None or b is None:
        return None
    try:
        bf = float(b)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    if bf == 0:
        return None
    return float(a) / bf  # type: ignore[arg-type]


def _money_div(a: object, b: object) -> Decimal | None:
    q = _div(a, b)
    return None if q is None else Decimal(str(round(q, 2)))


_USER_DERIVED = {"opens_per_user", "posts_per_poster", "read_rate", "arppu"}

M = MeasureDef
MEASURES: list[MeasureDef] = [
    # Messaging & social
    M(
        "messaging",
        "dau",
        "active users",
        "count",
        "distinct users who opened the app in the window",
        flag="active",
    ),
    M(
        "messaging",
        "opens_per_user",
        "opens/user",
        "ratio",
        "app opens / active users",
        derive=lambda v: _div(v.get("messaging._opens"), v.get("messaging.dau")),
    ),
    M(
        "messaging",
        "video_call_users",
        "video callers",
        "count",
        "distinct users who made a video call",
        flag="video_call",
    ),
    M(
        "messaging",
        "video_call_minutes",
        "call minutes",
        "number",
        "minutes of video calls",
        column="video_call_minutes",
    ),
    M(
        "messaging",
        "moments_viewers",
        "Moments viewers",
        "count",
        "distinct users who viewed Moments",
        flag="moments_view",
    ),
    M(
        "messaging",
        "moments_posters",
        "Moments posters",
        "count",
        "distinct users who posted to Moments",
        flag="moments_post",
    ),
    M(
        "messaging",
        "posts_per_poster",
        "posts/poster",
        "ratio",
        "Moments posts / posters",
        derive=lambda v: _div(v.get("messaging._posts"), v.get("messaging.moments_posters")),
    ),
    # Official Accounts
    M(
        "official_accounts",
        "readers",
        "readers",
        "count",
        "distinct users who read an article",
        flag="oa_reader",
    ),
    M(
        "official_accounts",
        "article_reads",
        "article reads",
        "count",
        "article reads",
        column="reads",
    ),
    M(
        "official_accounts",
        "read_rate",
        "read rate",
        "rate",
        "readers / recipients of the articles pushed in the window",
        derive=lambda v: _div(
            v.get("official_accounts.readers"), v.get("official_accounts._recipients")
        ),
    ),
    M(
        "official_accounts",
        "share_rate",
        "share rate",
        "rate",
        "reads that were shared / reads",
        column="share_rate",
    ),
    M("official_accounts", "new_followers", "new followers", "count", "follows", column="follows"),
    M(
        "official_accounts",
        "unfollows",
        "unfollows",
        "count",
        "unfollows",
        column="unfollows",
        good="down",
        headline=False,
    ),
    M(
        "official_accounts",
        "net_followers",
        "net followers",
        "count",
        "follows - unfollows",
        column="net_followers",
    ),
    # Mini Programs
    M(
        "mini_programs",
        "users",
        "MP users",
        "count",
        "distinct users who visited a Mini Program",
        flag="mp_user",
    ),
    M("mini_programs", "visits", "visits", "count", "Mini Program visits", column="visits"),
    M(
        "mini_programs",
        "gmv",
        "GMV",
        "money",
        "paid Mini Program orders' amount (CNY, not net of refunds)",
        column="gmv",
    ),
    M("mini_programs", "orders", "orders", "count", "paid Mini Program orders", column="orders"),
    M("mini_programs", "aov", "AOV", "money", "GMV / orders", column="aov"),
    M(
        "mini_programs",
        "payers",
        "payers",
        "count",
        "distinct users who paid in a Mini Program",
        flag="mp_payer",
        headline=False,
    ),
    M(
        "mini_programs",
        "arppu",
        "ARPPU",
        "money",
        "GMV / payers",
        derive=lambda v: _money_div(v.get("mini_programs.gmv"), v.get("mini_programs.payers")),
    ),
    M(
        "mini_programs",
        "refund_rate",
        "refund rate",
        "rate",
        "refunded amount / GMV",
        column="refund_rate",
        good="down",
    ),
    # Pay
    M(
        "pay",
        "transactions",
        "transactions",
        "count",
        "paid payments (success or later refunded)",
        column="transactions",
    ),
    M("pay", "tpm", "tx/min", "ratio", "transactions per minute of the window", column="tpm"),
    M(
        "pay",
        "gmv",
        "GMV",
        "money",
        "amount of paid payments (CNY, not net of refunds)",
        column="gmv",
    ),
    M(
        "pay",
        "success_rate",
        "success rate",
        "rate",
        "paid payments / payment attempts",
        column="success_rate",
    ),
    M(
        "pay",
        "refund_rate",
        "refund rate",
        "rate",
        "refunded amount / GMV (a refund counts in the window of its payment)",
        column="refund_rate",
        good="down",
    ),
    M(
        "pay",
        "payers",
        "unique payers",
        "count",
        "distinct users with a paid payment",
        flag="payer",
    ),
    M("pay", "aov", "AOV", "money", "GMV / transactions", column="aov", headline=False),
]

BY_ID: dict[str, MeasureDef] = {m.id: m for m in MEASURES}


def for_pillar(pillar: str) -> list[MeasureDef]:
    """The measures of one pillar, in display order."""
    return [m for m in MEASURES if m.pillar == pillar]
