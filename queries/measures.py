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
        "Moment viewers",
        "count",
        "distinct users who viewed Moments",
        flag="moments_view",
    ),
    M(
        "messaging",
        "moments_posters",
        "Moment posters",
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
    M(
        "official_accounts",
        "new_followers",
        "new followers",
        "count",
        "follow events",
        column="follows",
    ),
    M(
        "official_accounts",
        "unfollows",
        "unfollows",
        "count",
        "unfollow events",
        column="unfollows",
        good="down",
        headline=False,
    ),
    M(
        "official_accounts",
        "net_followers",
        "net followers",
        "count",
        "new followers - unfollows",
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
    M(
        "mini_programs",
        "orders",
        "orders",
        "count",
        "paid Mini Program orders (payments with entry mini_program)",
        column="orders",
    ),
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
        "refunded amount / GMV (a refund counts in the window of its payment)",
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
    # Pay Score
    M(
        "pay_score",
        "active_users",
        "active users",
        "count",
        "distinct users who created a Pay Score order",
        flag="payscore_user",
    ),
    M("pay_score", "orders", "orders", "count", "Pay Score orders created", column="orders"),
    M(
        "pay_score",
        "deposits_waived",
        "waived deposit",
        "money",
        "deposits waived by the orders created (CNY)",
        column="deposits_waived",
    ),
    M(
        "pay_score",
        "collection_rate_d0",
        "collected d0",
        "rate",
        "orders completed in the window paid within 1 day / those completed",
        column="collection_rate_d0",
    ),
    M(
        "pay_score",
        "collection_rate_d7",
        "collected d7",
        "rate",
        "orders completed in the window shifted back 7 days paid within 7 days / those completed",
        column="collection_rate_d7",
        headline=False,
    ),
    M(
        "pay_score",
        "collection_rate_d30",
        "collected d30",
        "rate",
        "orders completed in the window shifted back 30 days paid within 30 days / those completed",
        column="collection_rate_d30",
        headline=False,
    ),
    M(
        "pay_score",
        "bad_debt_rate",
        "bad-debt rate",
        "rate",
        "orders completed in the window shifted back 30 days still unpaid 30 days after "
        "completion / those completed",
        column="bad_debt_rate",
        good="down",
    ),
    # WeCom
    M(
        "wecom",
        "enterprises",
        "enterprises",
        "count",
        "WeCom enterprises at the window end",
        column="enterprises",
    ),
    M(
        "wecom",
        "contacts_added",
        "contacts added",
        "count",
        "customer contacts added by staff",
        column="contacts_added",
    ),
    M(
        "wecom",
        "contacts_removed",
        "lost contacts",
        "count",
        "customer contacts removed",
        column="contacts_removed",
        good="down",
        headline=False,
    ),
    M(
        "wecom",
        "net_contacts",
        "net contacts",
        "count",
        "contacts added - removed",
        column="net_contacts",
    ),
    M(
        "wecom",
        "customer_groups",
        "cust. groups",
        "count",
        "customer groups at the window end",
        column="customer_groups",
    ),
    M(
        "wecom",
        "group_members",
        "group members",
        "count",
        "members of the customer groups at the window end (current member counts; cap 500 a group)",
        column="group_members",
        headline=False,
    ),
    M(
        "wecom",
        "group_joins",
        "group joins",
        "count",
        "joins of customer groups",
        column="group_joins",
        headline=False,
    ),
    M(
        "wecom",
        "active_group_share",
        "active group %",
        "rate",
        "customer groups with a message in the window / customer groups",
        column="active_group_share",
    ),
    M(
        "wecom",
        "message_reach",
        "message reach",
        "rate",
        "mass-message recipients reached / targeted",
        column="message_reach",
    ),
    # Channels
    M("channels", "views", "views", "count", "views of short videos and lives", column="views"),
    M(
        "channels",
        "completion_rate",
        "completion",
        "rate",
        "views watched to the end / views",
        column="completion_rate",
    ),
    M(
        "channels",
        "live_sessions",
        "live sessions",
        "count",
        "live sessions overlapping the window",
        column="live_sessions",
    ),
    M(
        "channels",
        "peak_viewers",
        "peak viewers",
        "count",
        "highest peak concurrent viewers of a live session overlapping the window",
        column="peak_viewers",
        headline=False,
    ),
    M(
        "channels",
        "live_gmv",
        "live GMV",
        "money",
        "paid payments with entry channels_live (CNY)",
        column="live_gmv",
    ),
    M(
        "channels",
        "gmv_per_1k_viewers",
        "GMV/1k viewers",
        "money",
        "live GMV per 1,000 live views (GPM, CNY)",
        column="gmv_per_1k_viewers",
    ),
]

BY_ID: dict[str, MeasureDef] = {m.id: m for m in MEASURES}


def for_pillar(pillar: str) -> list[MeasureDef]:
    """The measures of one pillar, in display order."""
    return [m for m in MEASURES if m.pillar == pillar]


def markdown_table() -> str:
    """The README's table of measures (`python -m ecotop.queries.measures` prints it)."""
    kinds = {
        "count": "count",
        "money": "CNY",
        "rate": "fraction",
        "ratio": "ratio",
        "number": "sum",
    }
    lines = [
        "| measure | label | definition | unit | beyond 24h |",
        "|---|---|---|---|---|",
    ]
    for m in MEASURES:
        exact = "≈ approximate (user sample)" if m.users else "exact"
        lines.append(f"| `{m.id}` | {m.label} | {m.definition} | {kinds[m.kind]} | {exact} |")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    print(markdown_table())
