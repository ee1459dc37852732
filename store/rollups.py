"""Rollups: additive per-minute and per-hour sums, and per-hour user activity flags.

Every rollup row is a delta: readers always SUM (or bit_or) over a key. The same SQL builds the rollups
for a whole database (the generator, migration 2) and the deltas of one ingested batch (ingestion),
by pointing it at a different source relation.
"""

from __future__ import annotations

from collections.abc import Mapping

import duckdb

# Bits of rollup_active_hour_sample.flags (and of the activity_events view).
FLAGS: dict[str, int] = {
    "active": 1,
    "video_call": 2,
    "moments_view": 4,
    "moments_post": 8,
    "oa_reader": 16,
    "mp_user": 32,
    "mp_payer": 64,
    "payer": 128,
    "payscore_user": 256,
    "channels_viewer": 512,
}

# For each source table: SELECT minute, measure, dim, value rows. {src} is the relation to read.
MINUTE_SQL: dict[str, str] = {
    "app_sessions": """
        SELECT minute, measure, '' AS dim, value FROM (
          SELECT date_trunc('minute', ts) AS minute,
                 count(*)::DECIMAL(38,2) AS "msg.sessions",
                 sum(opens)::DECIMAL(38,2) AS "msg.opens",
                 sum(messages)::DECIMAL(38,2) AS "msg.messages",
                 count(*) FILTER (WHERE video_call_minutes > 0)::DECIMAL(38,2) AS "msg.video_calls",
                 sum(video_call_minutes)::DECIMAL(38,2) AS "msg.video_call_minutes",
                 sum(moments_views)::DECIMAL(38,2) AS "msg.moments_views",
                 sum(moments_posts)::DECIMAL(38,2) AS "msg.moments_posts"
          FROM {src} GROUP BY ALL
        ) UNPIVOT (value FOR measure IN ("msg.sessions", "msg.opens", "msg.messages", "msg.video_calls",
                                         "msg.video_call_minutes", "msg.moments_views", "msg.moments_posts"))
        WHERE value <> 0
    """,
    "oa_reads": """
        SELECT date_trunc('minute', ts) AS minute, 'oa.reads' AS measure, '' AS dim, count(*)::DECIMAL(38,2) AS value FROM {src} GROUP BY ALL
        UNION ALL
        SELECT date_trunc('minute', ts), 'oa.shares', '', count(*)::DECIMAL(38,2) FROM {src} WHERE shared GROUP BY ALL
    """,
    "oa_follows": """
        SELECT date_trunc('minute', ts) AS minute, 'oa.' || action || 's' AS measure, source AS dim,
               count(*)::DECIMAL(38,2) AS value
        FROM {src} GROUP BY ALL
    """,
    "oa_articles": """
        SELECT date_trunc('minute', published_at) AS minute, 'oa.articles' AS measure, '' AS dim, count(*)::DECIMAL(38,2) AS value FROM {src} GROUP BY ALL
        UNION ALL
        SELECT date_trunc('minute', published_at), 'oa.recipients', '', sum(recipients)::DECIMAL(38,2) FROM {src} GROUP BY ALL
    """,
    "mp_visits": """
        SELECT date_trunc('minute', v.ts) AS minute, 'mp.visits' AS measure, coalesce(p.category, '') AS dim,
               count(*)::DECIMAL(38,2) AS value
        FROM {src} v LEFT JOIN mini_programs p USING (mp_id) GROUP BY ALL
    """,
    "transactions": """
        WITH t AS (
          SELECT date_trunc('minute', x.ts) AS minute, x.entry, x.status, x.amount, m.industry
          FROM {src} x LEFT JOIN merchants m USING (merchant_id)
        )
        SELECT minute, measure, dim, value FROM (
          SELECT minute, entry AS dim,
                 count(*)::DECIMAL(38,2) AS "pay.attempts",
                 count(*) FILTER (WHERE status <> 'failed')::DECIMAL(38,2) AS "pay.paid",
                 coalesce(sum(amount) FILTER (WHERE status <> 'failed'), 0)::DECIMAL(38,2) AS "pay.gmv",
                 count(*) FILTER (WHERE status = 'refunded')::DECIMAL(38,2) AS "pay.refunds",
                 coalesce(sum(amount) FILTER (WHERE status = 'refunded'), 0)::DECIMAL(38,2) AS "pay.refunded_amount"
          FROM t GROUP BY ALL
        ) UNPIVOT (value FOR measure IN ("pay.attempts", "pay.paid", "pay.gmv", "pay.refunds", "pay.refunded_amount"))
        WHERE value <> 0
        UNION ALL
        SELECT minute, measure, dim, value FROM (
          SELECT minute, coalesce(industry, '') AS dim,
                 count(*) FILTER (WHERE status <> 'failed')::DECIMAL(38,2) AS "mp.orders",
                 coalesce(sum(amount) FILTER (WHERE status <> 'failed'), 0)::DECIMAL(38,2) AS "mp.gmv",
                 coalesce(sum(amount) FILTER (WHERE status = 'refunded'), 0)::DECIMAL(38,2) AS "mp.refunded_amount"
          FROM t WHERE entry = 'mini_program' GROUP BY ALL
        ) UNPIVOT (value FOR measure IN ("mp.orders", "mp.gmv", "mp.refunded_amount"))
        WHERE value <> 0
        UNION ALL
        SELECT minute, 'ind.gmv', coalesce(industry, ''), sum(amount)::DECIMAL(38,2)
        FROM t WHERE status <> 'failed' GROUP BY ALL
    """,
    "payscore_orders": """
        SELECT date_trunc('minute', ts) AS minute, 'ps.orders' AS measure, scenario AS dim, count(*)::DECIMAL(38,2) AS value FROM {src} GROUP BY ALL
        UNION ALL
        SELECT date_trunc('minute', ts), 'ps.deposit_waived', scenario, sum(deposit_waived)::DECIMAL(38,2) FROM {src} GROUP BY ALL
        UNION ALL
        SELECT date_trunc('minute', ts), 'ps.state', state, count(*)::DECIMAL(38,2) FROM {src} GROUP BY ALL
        UNION ALL
        SELECT minute, measure, dim, value FROM (
          SELECT date_trunc('minute', completed_at) AS minute, scenario AS dim,
                 count(*)::DECIMAL(38,2) AS "ps.completed",
                 count(*) FILTER (WHERE paid_at < completed_at + INTERVAL 1 DAY)::DECIMAL(38,2) AS "ps.paid_d0",
                 count(*) FILTER (WHERE paid_at < completed_at + INTERVAL 7 DAY)::DECIMAL(38,2) AS "ps.paid_d7",
                 count(*) FILTER (WHERE paid_at < completed_at + INTERVAL 30 DAY)::DECIMAL(38,2) AS "ps.paid_d30",
                 coalesce(sum(amount), 0)::DECIMAL(38,2) AS "ps.completed_amount",
                 coalesce(sum(amount) FILTER (WHERE paid_at < completed_at + INTERVAL 30 DAY), 0)::DECIMAL(38,2) AS "ps.paid_d30_amount"
          FROM {src} WHERE completed_at IS NOT NULL AND state = 'done' GROUP BY ALL
        ) UNPIVOT (value FOR measure IN ("ps.completed", "ps.paid_d0", "ps.paid_d7", "ps.paid_d30",
                                         "ps.completed_amount", "ps.paid_d30_amount"))
        WHERE value <> 0
    """,
    "wecom_contacts": """
        SELECT date_trunc('minute', ts) AS minute, CASE action WHEN 'add' THEN 'wc.contacts_added' ELSE 'wc.contacts_removed' END AS measure,
               '' AS dim, count(*)::DECIMAL(38,2) AS value
        FROM {src} GROUP BY ALL
    """,
    "group_members": """
        SELECT date_trunc('minute', ts) AS minute, CASE action WHEN 'join' THEN 'wc.group_joins' ELSE 'wc.group_leaves' END AS measure,
               '' AS dim, count(*)::DECIMAL(38,2) AS value
        FROM {src} GROUP BY ALL
    """,
    "wecom_messages": """
        SELECT minute, measure, '' AS dim, value FROM (
          SELECT date_trunc('minute', ts) AS minute,
                 count(*)::DECIMAL(38,2) AS "wc.messages",
                 sum(targeted)::DECIMAL(38,2) AS "wc.targeted",
                 sum(delivered)::DECIMAL(38,2) AS "wc.delivered",
                 sum(clicked)::DECIMAL(38,2) AS "wc.clicked"
          FROM {src} GROUP BY ALL
        ) UNPIVOT (value FOR measure IN ("wc.messages", "wc.targeted", "wc.delivered", "wc.clicked"))
    """,
    "channel_views": """
        SELECT minute, measure, dim, value FROM (
          SELECT date_trunc('minute', ts) AS minute, CASE WHEN live_id IS NULL THEN 'video' ELSE 'live' END AS dim,
                 count(*)::DECIMAL(38,2) AS "ch.views",
                 count(*) FILTER (WHERE completed)::DECIMAL(38,2) AS "ch.completed",
                 sum(watch_s)::DECIMAL(38,2) AS "ch.watch_s"
          FROM {src} GROUP BY ALL
        ) UNPIVOT (value FOR measure IN ("ch.views", "ch.completed", "ch.watch_s"))
    """,
    "live_sessions": """
        SELECT date_trunc('minute', started_at) AS minute, 'ch.lives' AS measure, '' AS dim, count(*)::DECIMAL(38,2) AS value
        FROM {src} GROUP BY ALL
    """,
}

ACTIVITY_SQL: dict[str, str] = {
    "app_sessions": """SELECT ts, user_id, 1 | (CASE WHEN video_call_minutes > 0 THEN 2 ELSE 0 END)
                          | (CASE WHEN moments_views > 0 THEN 4 ELSE 0 END)
                          | (CASE WHEN moments_posts > 0 THEN 8 ELSE 0 END) AS flags FROM {src}""",
    "oa_reads": "SELECT ts, user_id, 16 AS flags FROM {src}",
    "mp_visits": "SELECT ts, user_id, 32 AS flags FROM {src}",
    "transactions": """SELECT ts, user_id, CASE WHEN entry = 'mini_program' THEN 192 ELSE 128 END AS flags
                       FROM {src} WHERE status <> 'failed'""",
    "payscore_orders": "SELECT ts, user_id, 256 AS flags FROM {src}",
    "channel_views": "SELECT ts, user_id, 512 AS flags FROM {src}",
}

ROLLUP_TABLES = (
    "rollup_minute",
    "rollup_hour",
    "rollup_active_hour_sample",
    "rollup_active_day_sample",
)


def sample_mod(con: duckdb.DuckDBPyConnection) -> int:
    """The user sampling modulus of rollup_active_hour_sample stored in the file (1 = every user)."""
    row = con.execute("SELECT value FROM ecotop_meta WHERE key = 'sample_mod'").fetchall()
    row = row[0] if row else None
    return int(row[0]) if row else 1


def choose_sample_mod(n_users: int) -> int:
    """Sample about 100k users for approximate long-range distinct counts; every user if fewer."""
    return max(1, n_users // 100_000)


def apply(con: duckdb.DuckDBPyConnection, sources: Mapping[str, str]) -> None:
    """Append the rollup deltas of the given source relations (table name -> relation to read).

    With the real tables as sources this builds rollups from scratch (after `clear`); with a batch's
    registered relations it appends that batch's deltas. Runs in the caller's transaction.
    """
    mod = sample_mod(con)
    minute_parts = [MINUTE_SQL[t].format(src=rel) for t, rel in sources.items() if t in MINUTE_SQL]
    if minute_parts:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _rollup_delta AS "
            + " UNION ALL ".join(f"SELECT * FROM ({p})" for p in minute_parts)
        )
        con.execute(
            "INSERT INTO rollup_minute SELECT minute, measure, dim, sum(value) FROM _rollup_delta "
            "WHERE minute IS NOT NULL GROUP BY ALL ORDER BY minute"
        )
        con.execute(
            "INSERT INTO rollup_hour SELECT date_trunc('hour', minute), measure, dim, sum(value) "
            "FROM _rollup_delta WHERE minute IS NOT NULL GROUP BY ALL ORDER BY 1"
        )
        con.execute("DROP TABLE _rollup_delta")
    act_parts = [ACTIVITY_SQL[t].format(src=rel) for t, rel in sources.items() if t in ACTIVITY_SQL]
    if act_parts:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _active_delta AS SELECT date_trunc('hour', ts) AS hour, "
            "user_id, bit_or(flags)::INTEGER AS flags FROM (" + " UNION ALL ".join(act_parts) + ") "
            "WHERE user_id % $mod = 0 GROUP BY ALL",
            {"mod": mod},
        )
        con.execute("INSERT INTO rollup_active_hour_sample SELECT * FROM _active_delta ORDER BY hour")
        con.execute(
            "INSERT INTO rollup_active_day_sample SELECT date_trunc('day', hour) AS day, user_id, "
            "bit_or(flags)::INTEGER FROM _active_delta GROUP BY ALL ORDER BY day"
        )
        con.execute("DROP TABLE _active_delta")


def clear(con: duckdb.DuckDBPyConnection) -> None:
    """Empty every rollup table."""
    for t in ROLLUP_TABLES:
        con.execute(f"DELETE FROM {t}")


def rebuild(con: duckdb.DuckDBPyConnection) -> None:
    """Recompute every rollup from the raw tables (generator, migration 2, repair)."""
    clear(con)
    apply(con, {t: t for t in MINUTE_SQL.keys() | ACTIVITY_SQL.keys()})


def compact(con: duckdb.DuckDBPyConnection, before: str | None = None) -> None:
    """Merge delta rows of the same key so rollups stay small under continuous ingestion."""
    for table, key in (("rollup_minute", "minute"), ("rollup_hour", "hour")):
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE _c AS SELECT {key}, measure, dim, sum(value) AS value "
            f"FROM {table} GROUP BY ALL ORDER BY {key}"
        )
        con.execute(f"DELETE FROM {table}")
        con.execute(f"INSERT INTO {table} SELECT * FROM _c")
        con.execute("DROP TABLE _c")
    for table, key in (("rollup_active_hour_sample", "hour"), ("rollup_active_day_sample", "day")):
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE _c AS SELECT {key}, user_id, bit_or(flags)::INTEGER AS flags "
            f"FROM {table} GROUP BY ALL ORDER BY {key}"
        )
        con.execute(f"DELETE FROM {table}")
        con.execute(f"INSERT INTO {table} SELECT * FROM _c")
        con.execute("DROP TABLE _c")
