"""Known data for the query tests: a hand-made file whose every headline is worked out by hand, and a
reference computation of every headline measure with Polars over the raw tables, by definition.

(No tests here: the module is shared by tests/test_queries*.py.)
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl

AS_OF = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)  # 12:00 in Asia/Shanghai
H = timedelta(hours=1)
D = timedelta(days=1)


def at(hh: int, mm: int, day: timedelta = timedelta(0)) -> datetime:
    """A time on 2026-11-20 (UTC) shifted by `day`."""
    return datetime(2026, 11, 20, hh, mm, tzinfo=UTC) + day


def _insert(con: Any, table: str, rows: list[tuple]) -> None:
    if rows:
        marks = ", ".join("?" * len(rows[0]))
        con.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)


def tiny_db(path: Path, *, fresh_only: bool = False) -> Path:
    """A file with a handful of rows per table; TINY_1H holds its 1h headlines worked out by hand.

    The 1h window is [03:00, 04:00) UTC, the previous one [02:00, 03:00). With `fresh_only` only the
    rows of the current hour are kept (so the previous window has no data).
    """
    from ecotop.store import create_db, rollups

    db = create_db(path, overwrite=True)
    con = db.con
    old = datetime(2026, 1, 1, tzinfo=UTC)
    keep = (lambda t: t >= at(3, 0)) if fresh_only else (lambda t: True)

    def ins(table: str, rows: list[tuple], ts_col: int = 0) -> None:
        _insert(con, table, [r for r in rows if keep(r[ts_col])])

    _insert(con, "users", [(u, old, "c", "p") for u in range(1, 6)])
    _insert(
        con,
        "merchants",
        [(1, "m1", "food", "c", "p", 1.0, old), (2, "m2", "retail", "c", "p", 1.0, old)],
    )
    _insert(con, "mini_programs", [(1, 1, "mp1", "food"), (2, 2, "mp2", "retail")])
    _insert(con, "official_accounts", [(1, 1, "oa1", old)])
    ins(
        "app_sessions",
        [
            (at(3, 10), 1, 2, 5, 10.0, 3, 1),
            (at(3, 20), 1, 1, 0, 0.0, 0, 0),
            (at(3, 30), 2, 1, 1, 0.0, 2, 0),
            (at(3, 59), 3, 1, 0, 5.5, 0, 2),
            (at(2, 30), 4, 1, 0, 0.0, 0, 0),
        ],
    )
    ins(
        "transactions",
        [
            (1, at(3, 5), 1, 1, Decimal("10.00"), "qr", "success", None, None),
            (2, at(3, 6), 2, 1, Decimal("20.00"), "mini_program", "refunded", at(3, 30), None),
            (3, at(3, 7), 2, 2, Decimal("30.00"), "face", "failed", None, None),
            (4, at(3, 50), 3, 2, Decimal("40.50"), "channels_live", "success", None, 2),
            (5, at(2, 10), 4, 1, Decimal("5.00"), "qr", "success", None, None),
        ],
        1,
    )
    ins(
        "mp_visits",
        [(at(3, 1), 1, 1, 2, 3, 30), (at(3, 2), 1, 1, 2, 1, 5), (at(3, 40), 2, 2, 5, 2, 9)],
    )
    ins("oa_articles", [(1, 1, at(3, 0), 100, "a1"), (2, 1, at(1, 0), 50, "a2")], 2)
    ins(
        "oa_reads",
        [(at(3, 10), 1, 1, 1, True), (at(3, 20), 1, 1, 2, False), (at(3, 30), 2, 1, 1, False)],
    )
    ins(
        "oa_follows",
        [
            (at(3, 15), 1, 3, "follow", "search"),
            (at(3, 16), 1, 4, "follow", "qr"),
            (at(3, 17), 1, 5, "unfollow", "search"),
        ],
    )
    d7, d30 = -7 * D, -30 * D
    ins(
        "payscore_orders",
        [
            (1, at(3, 0), 1, 1, "power_bank", "done", Decimal(99), Decimal(3), at(3, 30), at(3, 31)),
            (2, at(3, 10), 2, 1, "bike_sharing", "doing", Decimal(199), Decimal(0), None, None),
            # the 7-day-earlier cohort: one paid within 7 days, one 10 minutes too late
            (3, at(2, 50, d7), 3, 1, "ride_hailing", "done", Decimal(99), Decimal(5),
             at(3, 20, d7), at(3, 20, d7 + 3 * D)),
            (4, at(2, 55, d7), 4, 1, "ride_hailing", "done", Decimal(99), Decimal(5),
             at(3, 25, d7), at(3, 35)),
            # the 30-day-earlier cohort: one paid after 10 days, one never
            (5, at(3, 30, d30), 5, 1, "power_bank", "done", Decimal(99), Decimal(4),
             at(3, 40, d30), at(3, 40, d30 + 10 * D)),
            (6, at(3, 35, d30), 1, 1, "power_bank", "done", Decimal(99), Decimal(4),
             at(3, 45, d30), None),
        ],
        1,
    )  # fmt: skip
    _insert(
        con,
        "wecom_enterprises",
        [(1, 1, "corp1", 10, old), (2, 2, "corp2", 5, at(3, 30))],
    )
    ins(
        "wecom_contacts",
        [
            (at(3, 5), 1, 1, 11, 1, "add"),
            (at(3, 6), 1, 1, 11, 2, "add"),
            (at(3, 7), 2, 2, 21, 3, "remove"),
        ],
    )
    _insert(
        con,
        "groups",
        [
            (1, "customer", 1, 120, old, "g1"),
            (2, "customer", 2, 500, at(2, 30), "g2"),
            (3, "chat", None, 10, old, "g3"),
            (4, "customer", 1, 30, at(3, 45), "g4"),
        ],
    )
    ins(
        "group_members",
        [(at(3, 20), 1, 1, "join"), (at(3, 21), 1, 2, "join"), (at(3, 22), 2, 3, "leave")],
    )
    ins(
        "wecom_messages",
        [
            (at(3, 30), 1, 1, 100, 90, 5),
            (at(3, 31), 1, None, 50, 50, 1),
            (at(3, 32), 2, 3, 10, 10, 0),
            (at(2, 30), 1, 2, 20, 10, 0),
        ],
    )
    _insert(con, "channels", [(1, 1, "ch1", 1000, old)])
    _insert(con, "channel_posts", [(1, 1, at(0, 0, -D), 60)])
    ins(
        "live_sessions",
        [
            (1, 1, 1, at(2, 30), at(3, 30), 300),
            (2, 1, 1, at(3, 50), None, 50),
            (3, 1, 1, at(1, 0), at(2, 0), 999),
        ],
        3,
    )
    ins(
        "channel_views",
        [
            (at(3, 10), 1, 1, 1, None, 60, True),
            (at(3, 11), 2, 1, 1, None, 30, False),
            (at(3, 55), 3, 1, None, 2, 100, False),
        ],
    )
    con.execute("INSERT OR REPLACE INTO ecotop_meta VALUES ('display_zone', 'Asia/Shanghai')")
    rollups.rebuild(con)
    db.close()
    return path


# The hand-made file's 1h headlines (current, previous), worked out by hand from the rows above.
TINY_1H: dict[str, tuple[Any, Any]] = {
    "messaging.dau": (3, 1),
    "messaging.opens_per_user": (5 / 3, 1.0),
    "messaging.video_call_users": (2, 0),
    "messaging.video_call_minutes": (15.5, 0.0),
    "messaging.moments_viewers": (2, 0),
    "messaging.moments_posters": (2, 0),
    "messaging.posts_per_poster": (1.5, None),
    "official_accounts.readers": (2, 0),
    "official_accounts.article_reads": (3, 0),
    "official_accounts.read_rate": (0.02, None),
    "official_accounts.share_rate": (1 / 3, None),
    "official_accounts.new_followers": (2, 0),
    "official_accounts.unfollows": (1, 0),
    "official_accounts.net_followers": (1, 0),
    "mini_programs.users": (2, 0),
    "mini_programs.visits": (3, 0),
    "mini_programs.gmv": (Decimal("20.00"), Decimal("0")),
    "mini_programs.orders": (1, 0),
    "mini_programs.aov": (Decimal("20.00"), None),
    "mini_programs.payers": (1, 0),
    "mini_programs.arppu": (Decimal("20.00"), None),
    "mini_programs.refund_rate": (1.0, None),
    "pay.transactions": (3, 1),
    "pay.tpm": (3 / 60, 1 / 60),
    "pay.gmv": (Decimal("70.50"), Decimal("5.00")),
    "pay.success_rate": (0.75, 1.0),
    "pay.refund_rate": (20 / 70.5, 0.0),
    "pay.payers": (3, 1),
    "pay.aov": (Decimal("23.50"), Decimal("5.00")),
    "pay_score.active_users": (2, 0),
    "pay_score.orders": (2, 0),
    "pay_score.deposits_waived": (Decimal("298.00"), Decimal("0")),
    "pay_score.collection_rate_d0": (1.0, None),
    "pay_score.collection_rate_d7": (0.5, None),
    "pay_score.collection_rate_d30": (0.5, None),
    "pay_score.bad_debt_rate": (0.5, None),
    "wecom.enterprises": (2, 1),
    "wecom.contacts_added": (2, 0),
    "wecom.contacts_removed": (1, 0),
    "wecom.net_contacts": (1, 0),
    "wecom.customer_groups": (3, 2),
    "wecom.group_members": (650, 620),
    "wecom.group_joins": (2, 0),
    "wecom.active_group_share": (1 / 3, 1 / 2),
    "wecom.message_reach": (150 / 160, 0.5),
    "channels.views": (3, 0),
    "channels.completion_rate": (1 / 3, None),
    "channels.live_sessions": (2, 1),
    "channels.peak_viewers": (300, 300),
    "channels.live_gmv": (Decimal("40.50"), Decimal("0")),
    "channels.gmv_per_1k_viewers": (Decimal("40500.00"), None),
}


def synthetic_db(path: Path, scale: float, **kwargs: Any) -> Path:
    """benchmarks.synthetic.synthetic_db (importable however pytest was started)."""
    root = str(Path(__file__).resolve().parent.parent)
    if root not in sys.path:
        sys.path.insert(0, root)
    from benchmarks.synthetic import synthetic_db as make

    return make(path, scale, **kwargs)


# Reference computation ---------------------------------------------------------------------------

RAW_TABLES = (
    "app_sessions",
    "oa_reads",
    "oa_follows",
    "oa_articles",
    "mp_visits",
    "transactions",
    "payscore_orders",
    "wecom_enterprises",
    "wecom_contacts",
    "groups",
    "group_members",
    "wecom_messages",
    "live_sessions",
    "channel_views",
)


def load_raw(cur: Any) -> dict[str, pl.DataFrame]:
    """Every raw table the headlines read, as Polars frames (money as Float64 for the reference)."""
    out = {}
    for t in RAW_TABLES:
        df = cur.sql(f"FROM {t}").pl()
        out[t] = df.with_columns(
            [
                pl.col(c).cast(pl.Float64)
                for c, dt in df.schema.items()
                if isinstance(dt, pl.Decimal)
            ]
        )
    return out


def _div(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


def reference(raw: dict[str, pl.DataFrame], s: datetime, e: datetime) -> dict[str, Any]:
    """Every headline measure of the window [s, e) computed by its definition from the raw rows."""

    def win(df: pl.DataFrame, col: str = "ts", lo: datetime = s, hi: datetime = e) -> pl.DataFrame:
        return df.filter((pl.col(col) >= lo) & (pl.col(col) < hi))

    def users(df: pl.DataFrame) -> int:
        return df.get_column("user_id").n_unique() if df.height else 0

    out: dict[str, Any] = {}
    ses = win(raw["app_sessions"])
    out["messaging.dau"] = users(ses)
    out["messaging.opens_per_user"] = _div(ses["opens"].sum(), out["messaging.dau"])
    out["messaging.video_call_users"] = users(ses.filter(pl.col("video_call_minutes") > 0))
    out["messaging.video_call_minutes"] = float(ses["video_call_minutes"].sum())
    out["messaging.moments_viewers"] = users(ses.filter(pl.col("moments_views") > 0))
    out["messaging.moments_posters"] = users(ses.filter(pl.col("moments_posts") > 0))
    out["messaging.posts_per_poster"] = _div(
        ses["moments_posts"].sum(), out["messaging.moments_posters"]
    )

    reads = win(raw["oa_reads"])
    fol = win(raw["oa_follows"])
    arts = win(raw["oa_articles"], "published_at")
    out["official_accounts.readers"] = users(reads)
    out["official_accounts.article_reads"] = reads.height
    out["official_accounts.read_rate"] = _div(users(reads), arts["recipients"].sum())
    out["official_accounts.share_rate"] = _div(reads["shared"].sum(), reads.height)
    follows = fol.filter(pl.col("action") == "follow").height
    unfollows = fol.filter(pl.col("action") == "unfollow").height
    out["official_accounts.new_followers"] = follows
    out["official_accounts.unfollows"] = unfollows
    out["official_accounts.net_followers"] = follows - unfollows

    tx = win(raw["transactions"])
    paid = tx.filter(pl.col("status") != "failed")
    mp = paid.filter(pl.col("entry") == "mini_program")
    mp_gmv = float(mp["amount"].sum())
    mp_refunded = float(mp.filter(pl.col("status") == "refunded")["amount"].sum())
    out["mini_programs.users"] = users(win(raw["mp_visits"]))
    out["mini_programs.visits"] = win(raw["mp_visits"]).height
    out["mini_programs.gmv"] = mp_gmv
    out["mini_programs.orders"] = mp.height
    out["mini_programs.aov"] = _div(mp_gmv, mp.height)
    out["mini_programs.payers"] = users(mp)
    out["mini_programs.arppu"] = _div(mp_gmv, users(mp))
    out["mini_programs.refund_rate"] = _div(mp_refunded, mp_gmv)

    gmv = float(paid["amount"].sum())
    out["pay.transactions"] = paid.height
    out["pay.tpm"] = paid.height / ((e - s) / timedelta(minutes=1))
    out["pay.gmv"] = gmv
    out["pay.success_rate"] = _div(paid.height, tx.height)
    out["pay.refund_rate"] = _div(
        float(paid.filter(pl.col("status") == "refunded")["amount"].sum()), gmv
    )
    out["pay.payers"] = users(paid)
    out["pay.aov"] = _div(gmv, paid.height)

    ps = raw["payscore_orders"]
    created = win(ps)
    out["pay_score.active_users"] = users(created)
    out["pay_score.orders"] = created.height
    out["pay_score.deposits_waived"] = float(created["deposit_waived"].sum())
    done = ps.filter((pl.col("state") == "done") & pl.col("completed_at").is_not_null())

    def collected(days: int, shift: int) -> tuple[int, int]:
        c = win(done, "completed_at", s - timedelta(days=shift), e - timedelta(days=shift))
        ok = c.filter(pl.col("paid_at") < pl.col("completed_at") + timedelta(days=days)).height
        return ok, c.height

    ok0, n0 = collected(1, 0)
    ok7, n7 = collected(7, 7)
    ok30, n30 = collected(30, 30)
    out["pay_score.collection_rate_d0"] = _div(ok0, n0)
    out["pay_score.collection_rate_d7"] = _div(ok7, n7)
    out["pay_score.collection_rate_d30"] = _div(ok30, n30)
    out["pay_score.bad_debt_rate"] = _div(n30 - ok30, n30)

    cg = raw["groups"].filter((pl.col("kind") == "customer") & (pl.col("created_at") < e))
    con = win(raw["wecom_contacts"])
    msgs = win(raw["wecom_messages"])
    added = con.filter(pl.col("action") == "add").height
    removed = con.filter(pl.col("action") == "remove").height
    customer_ids = raw["groups"].filter(pl.col("kind") == "customer")["group_id"]
    active = msgs.filter(pl.col("group_id").is_in(customer_ids.implode()))["group_id"].n_unique()
    out["wecom.enterprises"] = raw["wecom_enterprises"].filter(pl.col("created_at") < e).height
    out["wecom.contacts_added"] = added
    out["wecom.contacts_removed"] = removed
    out["wecom.net_contacts"] = added - removed
    out["wecom.customer_groups"] = cg.height
    out["wecom.group_members"] = int(cg["member_count"].sum())
    out["wecom.group_joins"] = win(raw["group_members"]).filter(pl.col("action") == "join").height
    out["wecom.active_group_share"] = _div(active, cg.height)
    out["wecom.message_reach"] = _div(msgs["delivered"].sum(), msgs["targeted"].sum())

    views = win(raw["channel_views"])
    live_views = views.filter(pl.col("live_id").is_not_null()).height
    lives = raw["live_sessions"].filter(
        (pl.col("started_at") < e) & (pl.col("ended_at").is_null() | (pl.col("ended_at") > s))
    )
    live_gmv = float(paid.filter(pl.col("entry") == "channels_live")["amount"].sum())
    out["channels.views"] = views.height
    out["channels.completion_rate"] = _div(views["completed"].sum(), views.height)
    out["channels.live_sessions"] = lives.height
    out["channels.peak_viewers"] = int(lives["peak_viewers"].max() or 0) if lives.height else 0
    out["channels.live_gmv"] = live_gmv
    out["channels.gmv_per_1k_viewers"] = _div(live_gmv * 1000, live_views)
    return out


# The top-N tables computed from raw rows, by definition (the SQL of schema version 2, which scanned
# the window's raw events): the reference the bounded top-N queries (entity_window) must equal.
RAW_TOPS: dict[str, str] = {
    "mini_programs/top": """
WITH v AS (
    SELECT mp_id,
           count(*) FILTER (WHERE ts >= $s AND ts < $e) AS visits,
           count(*) FILTER (WHERE ts >= $ps AND ts < $pe) AS visits_p
    FROM mp_visits
    WHERE ts >= least($s, $ps) AND ts < greatest($e, $pe)
      AND ((ts >= $s AND ts < $e) OR (ts >= $ps AND ts < $pe))
    GROUP BY mp_id
),
o AS (
    SELECT merchant_id,
           count(*) FILTER (WHERE ts >= $s AND ts < $e) AS orders,
           coalesce(sum(amount) FILTER (WHERE ts >= $s AND ts < $e), 0) AS gmv,
           coalesce(sum(amount) FILTER (WHERE ts >= $ps AND ts < $pe), 0) AS gmv_p
    FROM transactions
    WHERE entry = 'mini_program' AND status <> 'failed'
      AND ts >= least($s, $ps) AND ts < greatest($e, $pe)
      AND ((ts >= $s AND ts < $e) OR (ts >= $ps AND ts < $pe))
    GROUP BY merchant_id
)
SELECT p.mp_id, p.name, p.category, p.merchant_id,
       coalesce(v.visits, 0)::BIGINT AS visits,
       coalesce(o.orders, 0)::BIGINT AS orders,
       coalesce(o.gmv, 0)::DECIMAL(38, 2) AS gmv,
       coalesce(o.gmv_p, 0)::DECIMAL(38, 2) AS gmv_previous,
       o.gmv::DOUBLE / nullif(o.gmv_p, 0) - 1 AS gmv_growth,
       coalesce(v.visits_p, 0)::BIGINT AS visits_previous
FROM mini_programs p
LEFT JOIN v USING (mp_id)
LEFT JOIN o ON o.merchant_id = p.merchant_id
WHERE coalesce(v.visits, 0) > 0 OR coalesce(o.orders, 0) > 0
ORDER BY gmv DESC, visits DESC, p.mp_id
LIMIT $n
""",
    "official_accounts/top_accounts": """
WITH r AS (
    SELECT account_id,
           count(*) FILTER (WHERE ts >= $s AND ts < $e) AS reads,
           count(*) FILTER (WHERE ts >= $s AND ts < $e AND shared) AS shares,
           count(*) FILTER (WHERE ts >= $ps AND ts < $pe) AS reads_p
    FROM oa_reads
    WHERE ts >= least($s, $ps) AND ts < greatest($e, $pe)
      AND ((ts >= $s AND ts < $e) OR (ts >= $ps AND ts < $pe))
    GROUP BY account_id
),
top AS (SELECT * FROM r WHERE reads > 0 ORDER BY reads DESC, account_id LIMIT $n),
f AS (
    SELECT account_id,
           count(*) FILTER (WHERE action = 'follow') AS follows,
           count(*) FILTER (WHERE action = 'unfollow') AS unfollows
    FROM oa_follows
    WHERE ts >= $s AND ts < $e AND account_id IN (SELECT account_id FROM top)
    GROUP BY account_id
)
SELECT top.account_id, a.name, a.merchant_id,
       reads::BIGINT AS reads,
       shares::BIGINT AS shares,
       shares::DOUBLE / nullif(reads, 0) AS share_rate,
       coalesce(follows, 0)::BIGINT AS follows,
       coalesce(unfollows, 0)::BIGINT AS unfollows,
       (coalesce(follows, 0) - coalesce(unfollows, 0))::BIGINT AS net_followers,
       reads_p::BIGINT AS reads_previous,
       reads::DOUBLE / nullif(reads_p, 0) - 1 AS reads_growth
FROM top
LEFT JOIN official_accounts a USING (account_id)
LEFT JOIN f USING (account_id)
ORDER BY reads DESC, top.account_id
""",
    "channels/top_channels": """
WITH v AS (
    SELECT channel_id,
           count(*) FILTER (WHERE ts >= $s AND ts < $e) AS views,
           count(*) FILTER (WHERE ts >= $s AND ts < $e AND live_id IS NOT NULL) AS live_views,
           count(*) FILTER (WHERE ts >= $s AND ts < $e AND completed) AS completed,
           count(*) FILTER (WHERE ts >= $ps AND ts < $pe) AS views_p
    FROM channel_views
    WHERE ts >= least($s, $ps) AND ts < greatest($e, $pe)
      AND ((ts >= $s AND ts < $e) OR (ts >= $ps AND ts < $pe))
    GROUP BY channel_id
),
top AS (SELECT * FROM v WHERE views > 0 ORDER BY views DESC, channel_id LIMIT $n),
l AS (
    SELECT channel_id, count(*) AS lives, max(peak_viewers) AS peak_viewers
    FROM live_sessions
    WHERE started_at < $e AND (ended_at IS NULL OR ended_at > $s)
      AND channel_id IN (SELECT channel_id FROM top)
    GROUP BY channel_id
),
g AS (
    SELECT s.channel_id, sum(t.amount) AS live_gmv
    FROM transactions t JOIN live_sessions s USING (live_id)
    WHERE t.entry = 'channels_live' AND t.status <> 'failed' AND t.ts >= $s AND t.ts < $e
      AND s.channel_id IN (SELECT channel_id FROM top)
    GROUP BY s.channel_id
)
SELECT top.channel_id, c.name, c.merchant_id, c.followers,
       views::BIGINT AS views,
       live_views::BIGINT AS live_views,
       completed::DOUBLE / nullif(views, 0) AS completion_rate,
       coalesce(lives, 0)::BIGINT AS lives,
       coalesce(peak_viewers, 0)::BIGINT AS peak_viewers,
       coalesce(live_gmv, 0)::DECIMAL(38, 2) AS live_gmv,
       views_p::BIGINT AS views_previous,
       views::DOUBLE / nullif(views_p, 0) - 1 AS views_growth
FROM top
LEFT JOIN channels c USING (channel_id)
LEFT JOIN l USING (channel_id)
LEFT JOIN g USING (channel_id)
ORDER BY views DESC, top.channel_id
""",
    "wecom/top_enterprises": """
WITH c AS (
    SELECT corp_id,
           count(*) FILTER (WHERE ts >= $s AND ts < $e AND action = 'add') AS added,
           count(*) FILTER (WHERE ts >= $s AND ts < $e AND action = 'remove') AS removed,
           count(*) FILTER (WHERE ts >= $ps AND ts < $pe AND action = 'add') AS added_p
    FROM wecom_contacts
    WHERE ts >= least($s, $ps) AND ts < greatest($e, $pe)
      AND ((ts >= $s AND ts < $e) OR (ts >= $ps AND ts < $pe))
    GROUP BY corp_id
),
top AS (SELECT * FROM c WHERE added > 0 OR removed > 0 ORDER BY added DESC, corp_id LIMIT $n),
m AS (
    SELECT corp_id, count(*) AS messages, sum(targeted) AS targeted, sum(delivered) AS delivered
    FROM wecom_messages
    WHERE ts >= $s AND ts < $e AND corp_id IN (SELECT corp_id FROM top)
    GROUP BY corp_id
),
g AS (
    SELECT merchant_id, count(*) AS customer_groups
    FROM groups WHERE kind = 'customer' AND created_at < $e AND merchant_id IS NOT NULL
    GROUP BY merchant_id
)
SELECT top.corp_id, w.name, w.merchant_id, w.staff,
       added::BIGINT AS contacts_added,
       removed::BIGINT AS contacts_removed,
       (added - removed)::BIGINT AS net_contacts,
       coalesce(g.customer_groups, 0)::BIGINT AS customer_groups,
       coalesce(m.messages, 0)::BIGINT AS messages,
       m.delivered::DOUBLE / nullif(m.targeted, 0) AS message_reach,
       added_p::BIGINT AS added_previous,
       added::DOUBLE / nullif(added_p, 0) - 1 AS added_growth
FROM top
LEFT JOIN wecom_enterprises w USING (corp_id)
LEFT JOIN m USING (corp_id)
LEFT JOIN g ON g.merchant_id = w.merchant_id
ORDER BY added DESC, top.corp_id
""",
    "channels/top_lives": """
WITH l AS (
    SELECT live_id, channel_id, merchant_id, started_at, ended_at, peak_viewers
    FROM live_sessions
    WHERE started_at < $e AND (ended_at IS NULL OR ended_at > $s)
),
g AS (
    SELECT live_id, count(*) AS orders, sum(amount) AS gmv
    FROM transactions
    WHERE entry = 'channels_live' AND status <> 'failed' AND ts >= $s AND ts < $e
    GROUP BY live_id
)
SELECT l.live_id, l.channel_id, c.name AS channel, l.merchant_id, l.started_at, l.ended_at,
       l.peak_viewers::BIGINT AS peak_viewers,
       coalesce(g.orders, 0)::BIGINT AS orders,
       coalesce(g.gmv, 0)::DECIMAL(38, 2) AS live_gmv
FROM l
LEFT JOIN g USING (live_id)
LEFT JOIN channels c USING (channel_id)
ORDER BY live_gmv DESC, peak_viewers DESC, l.live_id
LIMIT $n
""",
}
