"""Data for the dashboard: overview sparklines, pillar detail views and the newest event time.

Every function takes a DuckDB cursor and returns plain Python or Arrow; nothing here draws.

- `trends(cur, window, points=30)` -> {measure id: [value per bucket]} for the overview sparklines.
- `pillar_view(cur, pillar, window, top=10)` -> PillarData(series, breakdowns, tops) for a pillar's
  detail view, with the stable keys of `PILLAR_VIEWS`.
- `latest_event(cur)` -> the newest event time (for "stale since HH:MM"), or None for an empty file.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

from ecotop.queries.registry import get
from ecotop.queries.windows import Window

# What each pillar's detail view shows: breakdown and top-N keys -> named query.
PILLAR_VIEWS: dict[str, dict[str, dict[str, str]]] = {
    "messaging": {
        "breakdowns": {"heatmap": "messaging/heatmap"},
        "tops": {},
    },
    "official_accounts": {
        "breakdowns": {"follows_by_source": "official_accounts/follows_by_source"},
        "tops": {"accounts": "official_accounts/top_accounts"},
    },
    "mini_programs": {
        "breakdowns": {"by_category": "mini_programs/by_category"},
        "tops": {"mini_programs": "mini_programs/top"},
    },
    "pay": {
        "breakdowns": {"by_entry": "pay/by_entry", "by_industry": "pay/by_industry"},
        "tops": {"merchants": "pay/top_merchants"},
    },
    "pay_score": {
        "breakdowns": {"by_scenario": "pay_score/by_scenario", "by_state": "pay_score/by_state"},
        "tops": {},
    },
    "wecom": {
        "breakdowns": {"group_sizes": "wecom/group_sizes"},
        "tops": {"enterprises": "wecom/top_enterprises"},
    },
    "channels": {
        "breakdowns": {"by_kind": "channels/by_kind"},
        "tops": {"channels": "channels/top_channels", "lives": "channels/top_lives"},
    },
}

DEFAULT_ZONE = "Asia/Shanghai"


def buckets_for(window: Window, points: int = 30) -> int:
    """How many minute-aligned buckets to split `window` into: the largest divisor of its length in
    minutes that is at most `points` (15m -> 15 one-minute buckets; 1h, 24h, 7d, 30d -> 30)."""
    minutes = max(1, int(window.length / timedelta(minutes=1)))
    n = max(1, min(points, minutes))
    while minutes % n:
        n -= 1
    return n


@dataclass
class PillarData:
    """One pillar's detail view for one window.

    series: `<pillar>/series` (one row per bucket; column `bucket` is its start);
    breakdowns / tops: Arrow tables by the stable keys of PILLAR_VIEWS[pillar].
    """

    pillar: str
    window: Window
    series: pa.Table
    breakdowns: dict[str, pa.Table] = field(default_factory=dict)
    tops: dict[str, pa.Table] = field(default_factory=dict)
    elapsed_ms: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain Python: {"pillar", "range", "series": [rows], "breakdowns": {k: [rows]}, "tops": ...}."""
        return {
            "pillar": self.pillar,
            "range": self.window.range,
            "series": self.series.to_pylist(),
            "breakdowns": {k: t.to_pylist() for k, t in self.breakdowns.items()},
            "tops": {k: t.to_pylist() for k, t in self.tops.items()},
        }


def _params(window: Window, **extra: Any) -> dict[str, Any]:
    return {**window.params(), **extra}


def pillar_view(
    cur: Any,
    pillar: str,
    window: Window,
    *,
    points: int = 30,
    top: int = 10,
    zone: str | None = None,
    tops: bool = True,
) -> PillarData:
    """Series, breakdowns and (unless `tops=False`) top-N tables of `pillar` over `window`.

    `zone` is the display zone of the messaging heatmap (default Asia/Shanghai). Every part reads
    bounded state: the top-N tables read the per-entity rollups (entity_window) and raw rows only for
    the partial hours at the window's edges; `tops=False` leaves them out.
    """
    if pillar not in PILLAR_VIEWS:
        raise KeyError(f"no pillar {pillar!r}; known: {', '.join(PILLAR_VIEWS)}")
    t0 = time.perf_counter()
    spec = PILLAR_VIEWS[pillar]
    params = _params(window, n=buckets_for(window, points), tz=zone or DEFAULT_ZONE)
    params_top = {**params, "n": top}
    series = get(f"{pillar}/series").run(cur, **params)
    breakdowns = {k: get(q).run(cur, **params) for k, q in spec["breakdowns"].items()}
    top_tables = {k: get(q).run(cur, **params_top) for k, q in spec["tops"].items()} if tops else {}
    return PillarData(
        pillar,
        window,
        series,
        breakdowns,
        top_tables,
        elapsed_ms=(time.perf_counter() - t0) * 1000,
    )


# Sparkline of each measure: how one bucket's value is made from the bucket sums of overview/trends
# (rollup measures) and overview/trends_state (enterprises, customer_groups, active_groups,
# live_sessions, peak_viewers). Distinct-user measures use a proxy per bucket (the events that make
# a user count: sessions for active users, reads for readers, ...) so one query serves every range;
# TREND_PROXIES names them. Measures of shifted cohorts (collection d7/d30, bad debt) and ratios of
# distinct users (posts per poster, read rate, ARPPU) have no sparkline.
_SUM = "sum"
_RATIO = "ratio"
TREND_SPEC: dict[str, tuple[str, ...]] = {
    "messaging.dau": (_SUM, "msg.sessions"),
    "messaging.opens_per_user": (_RATIO, "msg.opens", "msg.sessions"),
    "messaging.video_call_users": (_SUM, "msg.video_calls"),
    "messaging.video_call_minutes": (_SUM, "msg.video_call_minutes"),
    "messaging.moments_viewers": (_SUM, "msg.moments_views"),
    "messaging.moments_posters": (_SUM, "msg.moments_posts"),
    "official_accounts.readers": (_SUM, "oa.reads"),
    "official_accounts.article_reads": (_SUM, "oa.reads"),
    "official_accounts.share_rate": (_RATIO, "oa.shares", "oa.reads"),
    "official_accounts.new_followers": (_SUM, "oa.follows"),
    "official_accounts.unfollows": (_SUM, "oa.unfollows"),
    "official_accounts.net_followers": ("diff", "oa.follows", "oa.unfollows"),
    "mini_programs.users": (_SUM, "mp.visits"),
    "mini_programs.visits": (_SUM, "mp.visits"),
    "mini_programs.gmv": (_SUM, "mp.gmv"),
    "mini_programs.orders": (_SUM, "mp.orders"),
    "mini_programs.aov": (_RATIO, "mp.gmv", "mp.orders"),
    "mini_programs.payers": (_SUM, "mp.orders"),
    "mini_programs.refund_rate": (_RATIO, "mp.refunded_amount", "mp.gmv"),
    "pay.transactions": (_SUM, "pay.paid"),
    "pay.tpm": ("per_minute", "pay.paid"),
    "pay.gmv": (_SUM, "pay.gmv"),
    "pay.success_rate": (_RATIO, "pay.paid", "pay.attempts"),
    "pay.refund_rate": (_RATIO, "pay.refunded_amount", "pay.gmv"),
    "pay.payers": (_SUM, "pay.paid"),
    "pay.aov": (_RATIO, "pay.gmv", "pay.paid"),
    "pay_score.active_users": (_SUM, "ps.orders"),
    "pay_score.orders": (_SUM, "ps.orders"),
    "pay_score.deposits_waived": (_SUM, "ps.deposit_waived"),
    "pay_score.collection_rate_d0": (_RATIO, "ps.paid_d0", "ps.completed"),
    "wecom.enterprises": ("state", "enterprises"),
    "wecom.contacts_added": (_SUM, "wc.contacts_added"),
    "wecom.contacts_removed": (_SUM, "wc.contacts_removed"),
    "wecom.net_contacts": ("diff", "wc.contacts_added", "wc.contacts_removed"),
    "wecom.customer_groups": ("state", "customer_groups"),
    "wecom.group_joins": (_SUM, "wc.group_joins"),
    "wecom.active_group_share": ("state_ratio", "active_groups", "customer_groups"),
    "wecom.message_reach": (_RATIO, "wc.delivered", "wc.targeted"),
    "channels.views": (_SUM, "ch.views"),
    "channels.completion_rate": (_RATIO, "ch.completed", "ch.views"),
    "channels.live_sessions": ("state", "live_sessions"),
    "channels.peak_viewers": ("state", "peak_viewers"),
    "channels.live_gmv": (_SUM, "ch.live_gmv"),
    "channels.gmv_per_1k_viewers": ("per_1k", "ch.live_gmv", "ch.live_views"),
}
# Distinct-user measures whose sparkline is a proxy: measure id -> what the buckets count.
TREND_PROXIES: dict[str, str] = {
    "messaging.dau": "app sessions",
    "messaging.opens_per_user": "opens per session",
    "messaging.video_call_users": "video calls",
    "messaging.moments_viewers": "Moments views",
    "messaging.moments_posters": "Moments posts",
    "official_accounts.readers": "article reads",
    "mini_programs.users": "visits",
    "mini_programs.payers": "orders",
    "pay.payers": "transactions",
    "pay_score.active_users": "orders",
}


def _ratio(a: float | None, b: float | None, scale: float = 1.0) -> float | None:
    if a is None or not b:
        return None
    return a * scale / b


def trends(cur: Any, window: Window, points: int = 30) -> dict[str, list[float | None]]:
    """Per-bucket values of the headline measures over `window` for the overview sparklines.

    The window is split into `buckets_for(window, points)` equal, minute-aligned buckets (15m: 15
    one-minute buckets; otherwise 30), oldest first, summed from rollup_minute up to 24h and
    rollup_hour beyond (exact totals; an hour counts in the bucket where it starts). Keys are the
    measure ids of TREND_SPEC; distinct-user measures use the per-bucket proxies of TREND_PROXIES.
    Ratios are None in buckets whose denominator is zero. Two queries in all.
    """
    n = buckets_for(window, points)
    params = {"s": window.start, "e": window.end, "n": n}
    long = get("overview/trends").run(cur, **params)
    sums: dict[str, list[float]] = {}
    for i, measure, value in zip(
        long.column("i").to_pylist(),
        long.column("measure").to_pylist(),
        long.column("value").to_pylist(),
        strict=True,
    ):
        sums.setdefault(measure, [0.0] * n)[i] = value
    state = get("overview/trends_state").run(cur, **params).to_pydict()
    zeros = [0.0] * n
    minutes = window.length / timedelta(minutes=1) / n
    out: dict[str, list[float | None]] = {}
    for mid, (how, *args) in TREND_SPEC.items():
        if how == _SUM:
            out[mid] = list(sums.get(args[0], zeros))
        elif how == "diff":
            a, b = sums.get(args[0], zeros), sums.get(args[1], zeros)
            out[mid] = [x - y for x, y in zip(a, b, strict=True)]
        elif how in (_RATIO, "per_1k"):
            a, b = sums.get(args[0], zeros), sums.get(args[1], zeros)
            k = 1000.0 if how == "per_1k" else 1.0
            out[mid] = [_ratio(x, y, k) for x, y in zip(a, b, strict=True)]
        elif how == "per_minute":
            out[mid] = [x / minutes for x in sums.get(args[0], zeros)]
        elif how == "state":
            out[mid] = [float(v) for v in state[args[0]]]
        elif how == "state_ratio":
            out[mid] = [
                _ratio(float(x), float(y))
                for x, y in zip(state[args[0]], state[args[1]], strict=True)
            ]
    return out


_EVENT_TIMES = (
    ("app_sessions", "ts"),
    ("oa_reads", "ts"),
    ("oa_follows", "ts"),
    ("oa_articles", "published_at"),
    ("mp_visits", "ts"),
    ("transactions", "ts"),
    ("payscore_orders", "ts"),
    ("payscore_orders", "completed_at"),
    ("wecom_contacts", "ts"),
    ("group_members", "ts"),
    ("wecom_messages", "ts"),
    ("channel_views", "ts"),
    ("live_sessions", "started_at"),
)


def _latest_sql(bounded: bool) -> str:
    parts = [
        f"(SELECT max({col}) FROM {table}{f' WHERE {col} >= $m' if bounded else ''})"
        for table, col in _EVENT_TIMES
    ]
    return "SELECT greatest(" + ", ".join(parts) + ")"


def latest_event(cur: Any) -> datetime | None:
    """The newest event time in the file (for "stale since"), None for a file without events.

    Looks only at the newest minute of rollup_minute onwards, so zone maps keep the scans to the
    tables' last row groups. Never later than the wall clock.
    """
    from ecotop.queries.kpis import file_info

    newest = file_info(cur).newest_minute
    if newest is None:
        return None
    row = cur.execute(_latest_sql(True), {"m": newest}).fetchall()
    latest = row[0][0] if row else None
    if latest is None:  # rollups ahead of the raw tables (should not happen): look everywhere
        latest = cur.execute(_latest_sql(False)).fetchall()[0][0]
    if latest is not None:  # a live writer may record times ahead of the wall clock
        latest = min(latest, datetime.now(UTC))
    return latest
