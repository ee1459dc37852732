"""Rollups: the bounded state every screen reads (docs/ARCHITECTURE.md, "Bounded state").

Additive per-minute and per-hour sums; exact per-hour user sets with the minutes of activity
(rollup_user_hour) and a fixed user sample per hour and day for the ≈ long ranges; per-entity hour
and day sums for the top-N tables; per-merchant hour, day and week sums; the merchant closed loop.

Every rollup row is a delta: readers always SUM (or bit_or) over a key. The same SQL builds the rollups
for a whole database (the generator, migrations 2 and 3) and the deltas of one ingested batch
(ingestion), by pointing it at a different source relation, in the caller's transaction.

One piece over ~500 lines: the SQL that defines every rollup lives beside the code that applies
it, so the rebuild and the per-batch deltas cannot drift apart.
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

# Per-merchant payment sums per hour of a batch's payments ({src}); the member flag reads the
# memberships table, so a batch's memberships are inserted before its rollups are applied.
MERCHANT_SQL = """
    SELECT date_trunc('hour', t.ts) AS hour, t.merchant_id,
           count(*)::BIGINT AS orders,
           sum(t.amount)::DECIMAL(18,2) AS gmv,
           coalesce(sum(t.amount) FILTER (WHERE t.status = 'refunded'), 0)::DECIMAL(18,2) AS refunded,
           coalesce(sum(t.amount) FILTER (WHERE EXISTS (
               SELECT 1 FROM memberships m
               WHERE m.merchant_id = t.merchant_id AND m.user_id = t.user_id AND m.enrolled_at <= t.ts)),
               0)::DECIMAL(18,2) AS member_gmv
    FROM {src} t WHERE t.status <> 'failed' GROUP BY ALL
"""

# The closed-loop events of a batch's rows per source table, as rollup_merchant_touch rows
# (merchant_id, ts, user_id, step, amount, detail, ref_id). Dimension tables (accounts, groups, lives)
# are read as they are, so a batch's dimension rows are inserted before its rollups.
TOUCH_SQL: dict[str, str] = {
    "oa_reads": """SELECT a.merchant_id, r.ts, r.user_id, 1, NULL, NULL, NULL
                   FROM {src} r JOIN official_accounts a USING (account_id)
                   WHERE a.merchant_id IS NOT NULL""",
    "mp_visits": "SELECT merchant_id, ts, user_id, 2, NULL, NULL, NULL FROM {src}",
    "transactions": """SELECT merchant_id, ts, user_id, CASE WHEN status = 'failed' THEN 3 ELSE 4 END,
                              amount, entry, live_id FROM {src}
                       UNION ALL
                       SELECT merchant_id, ts, user_id, 10, amount, entry, live_id FROM {src}
                       WHERE status = 'refunded'""",
    "memberships": "SELECT merchant_id, enrolled_at, user_id, 5, NULL, channel, NULL FROM {src}",
    "wecom_contacts": """SELECT merchant_id, ts, user_id, 6, NULL, NULL, NULL FROM {src}
                         WHERE action = 'add' AND merchant_id IS NOT NULL""",
    "group_members": """SELECT g.merchant_id, m.ts, m.user_id, 7, NULL, NULL, m.group_id
                        FROM {src} m JOIN groups g USING (group_id)
                        WHERE m.action = 'join' AND g.merchant_id IS NOT NULL""",
    "channel_views": """SELECT l.merchant_id, v.ts, v.user_id, 8, NULL, NULL, v.live_id
                        FROM {src} v JOIN live_sessions l USING (live_id)
                        WHERE l.merchant_id IS NOT NULL""",
}

# The step-10 rows of payments refunded after they were ingested ({src}: the refunded payments, with
# the transactions columns); ingestion appends them with the refund's other rollup deltas.
TOUCH_REFUND_SQL = """SELECT merchant_id, ts, user_id, 10, amount, entry, live_id FROM {src}"""


def touch_refunds(con: duckdb.DuckDBPyConnection, src: str) -> None:
    """The part of `refunds` that ingestion's own refund deltas (minute, hour, merchant hour and
    day) do not cover: the closed loop's step-10 rows and, in a version-3 file, the day tier of the
    sums and the merchant week. Prefer `refunds`, which appends every tier."""
    _insert_touch(con, TOUCH_REFUND_SQL.format(src=src))
    if has_v3(con):
        _refund_sums(con, src)
        con.execute(
            "INSERT INTO rollup_day SELECT date_trunc('day', minute), measure, dim, "
            "sum(value) FROM _refund_delta GROUP BY ALL ORDER BY 1"
        )
        con.execute("DROP TABLE _refund_delta")
        con.execute(
            "INSERT INTO rollup_merchant_week SELECT date_trunc('week', ts) AS k, merchant_id, 0, 0, "
            f"sum(amount)::DECIMAL(18,2), 0 FROM {src} GROUP BY ALL ORDER BY k, merchant_id"
        )


ROLLUP_TABLES = (
    "rollup_minute",
    "rollup_hour",
    "rollup_active_hour_sample",
    "rollup_active_day_sample",
    "rollup_merchant_hour",
    "rollup_merchant_day",
    "rollup_merchant_touch",
    "rollup_day",
    "rollup_user_hour",
    "rollup_user_day",
    "rollup_entity_hour",
    "rollup_entity_day",
    "rollup_entity_week",
    "rollup_merchant_week",
)
# The tables schema version 3 added (store/migrations/003_bounded_state.sql).
V3_TABLES = (
    "rollup_day",
    "rollup_user_hour",
    "rollup_user_day",
    "rollup_entity_hour",
    "rollup_entity_day",
    "rollup_entity_week",
    "rollup_merchant_week",
)
# rollup_user_day rows from rollup_user_hour-shaped rows ({src}): the hours of each flag combination.
USER_DAY_SQL = """
    INSERT INTO rollup_user_day
    SELECT date_trunc('day', hour) AS day, user_id, flags,
           bit_or((1::BIGINT << ((epoch_ms(hour) - epoch_ms(date_trunc('day', hour))) // 3600000)
                  ::INTEGER)::INTEGER) AS hours
    FROM {src} GROUP BY ALL ORDER BY day
"""

# Per-entity sums per hour of a batch ({src}) for the top-N tables: (hour, kind, entity_id, measure,
# value) rows. The same events as the entity_events macro of migration 3 (the raw side of the edges).
ENTITY_SQL: dict[str, str] = {
    "mp_visits": """SELECT date_trunc('hour', ts) AS hour, 'mp' AS kind, mp_id AS entity_id,
                           'visits' AS measure, count(*)::DECIMAL(38,2) AS value
                    FROM {src} GROUP BY ALL""",
    "transactions": """
        SELECT hour, kind, entity_id, measure, value FROM (
          SELECT date_trunc('hour', ts) AS hour, 'mpm' AS kind, merchant_id AS entity_id,
                 count(*)::DECIMAL(38,2) AS orders, sum(amount)::DECIMAL(38,2) AS gmv
          FROM {src} WHERE entry = 'mini_program' AND status <> 'failed' GROUP BY ALL
        ) UNPIVOT (value FOR measure IN (orders, gmv))
        UNION ALL
        SELECT hour, kind, entity_id, measure, value FROM (
          SELECT date_trunc('hour', ts) AS hour, 'live' AS kind, live_id AS entity_id,
                 count(*)::DECIMAL(38,2) AS orders, sum(amount)::DECIMAL(38,2) AS gmv
          FROM {src} WHERE entry = 'channels_live' AND status <> 'failed' AND live_id IS NOT NULL
          GROUP BY ALL
        ) UNPIVOT (value FOR measure IN (orders, gmv))
        UNION ALL
        SELECT date_trunc('hour', t.ts), 'ch', l.channel_id, 'live_gmv', sum(t.amount)::DECIMAL(38,2)
        FROM {src} t JOIN live_sessions l USING (live_id)
        WHERE t.entry = 'channels_live' AND t.status <> 'failed' GROUP BY ALL""",
    "oa_reads": """
        SELECT hour, kind, entity_id, measure, value FROM (
          SELECT date_trunc('hour', ts) AS hour, 'oa' AS kind, account_id AS entity_id,
                 count(*)::DECIMAL(38,2) AS reads,
                 count(*) FILTER (WHERE shared)::DECIMAL(38,2) AS shares
          FROM {src} GROUP BY ALL
        ) UNPIVOT (value FOR measure IN (reads, shares)) WHERE value <> 0""",
    "oa_follows": """SELECT date_trunc('hour', ts) AS hour, 'oa' AS kind, account_id AS entity_id,
                            action || 's' AS measure, count(*)::DECIMAL(38,2) AS value
                     FROM {src} GROUP BY ALL""",
    "channel_views": """
        SELECT hour, kind, entity_id, measure, value FROM (
          SELECT date_trunc('hour', ts) AS hour, 'ch' AS kind, channel_id AS entity_id,
                 count(*)::DECIMAL(38,2) AS views,
                 count(*) FILTER (WHERE live_id IS NOT NULL)::DECIMAL(38,2) AS live_views,
                 count(*) FILTER (WHERE completed)::DECIMAL(38,2) AS completed
          FROM {src} GROUP BY ALL
        ) UNPIVOT (value FOR measure IN (views, live_views, completed)) WHERE value <> 0""",
    "wecom_contacts": """SELECT date_trunc('hour', ts) AS hour, 'corp' AS kind, corp_id AS entity_id,
                                CASE action WHEN 'add' THEN 'added' ELSE 'removed' END AS measure,
                                count(*)::DECIMAL(38,2) AS value
                         FROM {src} GROUP BY ALL""",
    "wecom_messages": """
        SELECT hour, kind, entity_id, measure, value FROM (
          SELECT date_trunc('hour', ts) AS hour, 'corp' AS kind, corp_id AS entity_id,
                 count(*)::DECIMAL(38,2) AS messages, sum(targeted)::DECIMAL(38,2) AS targeted,
                 sum(delivered)::DECIMAL(38,2) AS delivered
          FROM {src} GROUP BY ALL
        ) UNPIVOT (value FOR measure IN (messages, targeted, delivered)) WHERE value <> 0""",
}


def _insert_sum_tiers(con: duckdb.DuckDBPyConnection, delta: str, v3: bool) -> None:
    """Append minute-keyed (minute, measure, dim, value) delta rows of relation `delta` to the sum
    tiers: rollup_minute, rollup_hour and (version 3) rollup_day."""
    con.execute(f"INSERT INTO rollup_minute SELECT * FROM {delta} ORDER BY minute")
    con.execute(
        "INSERT INTO rollup_hour SELECT date_trunc('hour', minute), measure, dim, sum(value) "
        f"FROM {delta} GROUP BY ALL HAVING sum(value) <> 0 ORDER BY 1"
    )
    if v3:
        con.execute(
            "INSERT INTO rollup_day SELECT date_trunc('day', minute), measure, dim, sum(value) "
            f"FROM {delta} GROUP BY ALL HAVING sum(value) <> 0 ORDER BY 1"
        )


def refunds(con: duckdb.DuckDBPyConnection, src: str) -> None:
    """Append the rollup deltas of payments refunded by an update (ingestion, same transaction).

    `src` holds the refunded payments with the transactions columns (their new state). In the
    minute, hour and day of the original payment: pay.refunds and pay.refunded_amount by entry, and
    mp.refunded_amount by the merchant's industry for the mini_program entry; `refunded` of the
    payment's merchant in its hour, day and week; the closed loop's refund step. GMV is not net of
    refunds and a refunded payer stays a payer, so nothing else moves.
    """
    v3 = has_v3(con)
    _refund_sums(con, src)
    _insert_sum_tiers(con, "_refund_delta", v3)
    con.execute("DROP TABLE _refund_delta")
    tiers = [("rollup_merchant_hour", "hour"), ("rollup_merchant_day", "day")]
    if v3:
        tiers.append(("rollup_merchant_week", "week"))
    for table, unit in tiers:
        con.execute(
            f"INSERT INTO {table} SELECT date_trunc('{unit}', ts) AS k, merchant_id, 0, 0, "
            f"sum(amount)::DECIMAL(18,2), 0 FROM {src} GROUP BY ALL ORDER BY k, merchant_id"
        )
    _insert_touch(con, TOUCH_REFUND_SQL.format(src=src))


def _refund_sums(con: duckdb.DuckDBPyConnection, src: str) -> None:
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _refund_delta AS SELECT minute, measure, dim, "
        "sum(value) AS value FROM ("
        "SELECT date_trunc('minute', r.ts) AS minute, 'pay.refunds' AS measure, r.entry AS dim, "
        "1::DECIMAL(38,2) AS value FROM {src} r "
        "UNION ALL SELECT date_trunc('minute', r.ts), 'pay.refunded_amount', r.entry, r.amount "
        "FROM {src} r "
        "UNION ALL SELECT date_trunc('minute', r.ts), 'mp.refunded_amount', "
        "coalesce(m.industry, ''), r.amount FROM {src} r LEFT JOIN merchants m USING (merchant_id) "
        "WHERE r.entry = 'mini_program') GROUP BY ALL".replace("{src}", src)
    )


def updates(con: duckdb.DuckDBPyConnection, table: str, old: str, new: str) -> None:
    """Append the rollup deltas of rows of `table` changing from relation `old` to `new`.

    f(new) - f(old), with f the table's sums (MINUTE_SQL), over the touched rows only, into every sum
    tier. For a Pay Score completion this moves ps.state at the creation minute and adds
    ps.completed, ps.paid_dN and the amounts at the completion minute. Updates never change activity
    flags nor entity sums, so the user sets and top-N rollups need no delta. (Refunds: `refunds`.)
    """
    sql = MINUTE_SQL.get(table)
    if sql is None:
        return
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _upd_delta AS "
        "SELECT minute, measure, dim, sum(value) AS value FROM ("
        f"SELECT minute, measure, dim, value FROM ({sql.format(src=new)}) UNION ALL "
        f"SELECT minute, measure, dim, -value FROM ({sql.format(src=old)})"
        ") WHERE minute IS NOT NULL GROUP BY ALL HAVING sum(value) <> 0"
    )
    _insert_sum_tiers(con, "_upd_delta", has_v3(con))
    con.execute("DROP TABLE _upd_delta")


def has_v3(con: duckdb.DuckDBPyConnection) -> bool:
    """True when the file holds schema version 3's bounded state (rollup_user_hour and the rest)."""
    rows = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND table_name = 'rollup_user_hour'"
    ).fetchall()
    return bool(rows and rows[0][0])


def sample_mod(con: duckdb.DuckDBPyConnection) -> int:
    """The user sampling modulus of rollup_active_hour_sample stored in the file (1 = every user)."""
    rows = con.execute("SELECT value FROM ecotop_meta WHERE key = 'sample_mod'").fetchall()
    return int(rows[0][0]) if rows else 1


def choose_sample_mod(n_users: int) -> int:
    """Sample about 100k users for approximate long-range distinct counts; every user if fewer."""
    return max(1, n_users // 100_000)


def apply(con: duckdb.DuckDBPyConnection, sources: Mapping[str, str]) -> None:
    """Append the rollup deltas of the given source relations (table name -> relation to read).

    With the real tables as sources this builds rollups from scratch (after `clear`); with a batch's
    registered relations it appends that batch's deltas. Runs in the caller's transaction. A file
    older than schema version 3 gets only the rollups it has (ingestion into an unmigrated file).
    """
    mod = sample_mod(con)
    v3 = has_v3(con)
    minute_parts = [MINUTE_SQL[t].format(src=rel) for t, rel in sources.items() if t in MINUTE_SQL]
    if minute_parts:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _rollup_delta AS SELECT minute, measure, dim, "
            "sum(value) AS value FROM ("
            + " UNION ALL ".join(f"SELECT * FROM ({p})" for p in minute_parts)
            + ") WHERE minute IS NOT NULL GROUP BY ALL"
        )
        _insert_sum_tiers(con, "_rollup_delta", v3)
        con.execute("DROP TABLE _rollup_delta")
    act_parts = [ACTIVITY_SQL[t].format(src=rel) for t, rel in sources.items() if t in ACTIVITY_SQL]
    if act_parts:
        # One pass over the batch's user events: every user's flag combinations per hour with the
        # minutes they happened in (the exact sets), and from them the sampled users' hours and days.
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _user_delta AS SELECT date_trunc('hour', ts) AS hour, "
            "user_id, flags::INTEGER AS flags, "
            "bit_or(1::BIGINT << ((epoch_ms(ts) - epoch_ms(date_trunc('hour', ts))) // 60000)::INTEGER) "
            "AS minutes FROM (" + " UNION ALL ".join(act_parts) + ") GROUP BY ALL"
        )
        if v3:
            con.execute("INSERT INTO rollup_user_hour SELECT * FROM _user_delta ORDER BY hour")
            con.execute(USER_DAY_SQL.format(src="_user_delta"))
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _active_delta AS SELECT hour, user_id, "
            "bit_or(flags)::INTEGER AS flags FROM _user_delta WHERE user_id % $mod = 0 GROUP BY ALL",
            {"mod": mod},
        )
        con.execute(
            "INSERT INTO rollup_active_hour_sample SELECT * FROM _active_delta ORDER BY hour"
        )
        con.execute(
            "INSERT INTO rollup_active_day_sample SELECT date_trunc('day', hour) AS day, user_id, "
            "bit_or(flags)::INTEGER FROM _active_delta GROUP BY ALL ORDER BY day"
        )
        con.execute("DROP TABLE _active_delta")
        con.execute("DROP TABLE _user_delta")
    if "transactions" in sources:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _merchant_delta AS "
            + MERCHANT_SQL.format(src=sources["transactions"])
        )
        con.execute(
            "INSERT INTO rollup_merchant_hour SELECT * FROM _merchant_delta ORDER BY hour, merchant_id"
        )
        for table, unit in (("rollup_merchant_day", "day"), ("rollup_merchant_week", "week")):
            if unit == "week" and not v3:
                continue
            con.execute(
                f"INSERT INTO {table} SELECT date_trunc('{unit}', hour) AS k, merchant_id, "
                "sum(orders)::BIGINT, sum(gmv), sum(refunded), sum(member_gmv) FROM _merchant_delta "
                "GROUP BY ALL ORDER BY k, merchant_id"
            )
        con.execute("DROP TABLE _merchant_delta")
    entity_parts = [ENTITY_SQL[t].format(src=rel) for t, rel in sources.items() if t in ENTITY_SQL]
    if entity_parts and v3:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _entity_delta AS "
            + " UNION ALL ".join(f"SELECT * FROM ({p})" for p in entity_parts)
        )
        con.execute(
            "INSERT INTO rollup_entity_hour SELECT * FROM _entity_delta WHERE hour IS NOT NULL "
            "ORDER BY hour"
        )
        for unit in ("day", "week"):
            con.execute(
                f"INSERT INTO rollup_entity_{unit} SELECT date_trunc('{unit}', hour) AS k, kind, "
                "entity_id, measure, sum(value) FROM _entity_delta WHERE hour IS NOT NULL "
                "GROUP BY ALL ORDER BY k"
            )
        con.execute("DROP TABLE _entity_delta")
    touch_parts = [TOUCH_SQL[t].format(src=rel) for t, rel in sources.items() if t in TOUCH_SQL]
    if touch_parts:
        _insert_touch(con, " UNION ALL ".join(f"SELECT * FROM ({p})" for p in touch_parts))


# Rows of rollup_merchant_touch sorted per slice of merchant ids at most (sorting all of a big history
# at once would spill far beyond the memory limit): the table ends up sorted by (merchant_id, ts).
_TOUCH_SLICE_ROWS = 8_000_000


def _insert_touch(con: duckdb.DuckDBPyConnection, union_sql: str) -> None:
    cols = "merchant_id, ts, user_id, step, amount, detail, ref_id"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _touch_delta ({cols}) AS "
        f"SELECT * FROM ({union_sql}) WHERE merchant_id IS NOT NULL"
    )
    counts = con.execute(
        "SELECT merchant_id, count(*) FROM _touch_delta GROUP BY 1 ORDER BY 1"
    ).fetchall()
    # Slices of consecutive merchant ids holding at most about _TOUCH_SLICE_ROWS rows each.
    slices: list[tuple[int, int]] = []
    lo, acc = None, 0
    for mid, n in counts:
        if lo is None:
            lo = mid
        acc += n
        if acc >= _TOUCH_SLICE_ROWS:
            slices.append((lo, mid))
            lo, acc = None, 0
    if lo is not None:
        slices.append((lo, counts[-1][0]))
    for a, b in slices:
        con.execute(
            "INSERT INTO rollup_merchant_touch SELECT * FROM _touch_delta "
            "WHERE merchant_id BETWEEN $a AND $b ORDER BY merchant_id, ts",
            {"a": a, "b": b},
        )
    con.execute("DROP TABLE _touch_delta")


def clear(con: duckdb.DuckDBPyConnection) -> None:
    """Empty every rollup table the file has."""
    v3 = has_v3(con)
    for t in ROLLUP_TABLES:
        if v3 or t not in V3_TABLES:
            con.execute(f"DELETE FROM {t}")


def rebuild(con: duckdb.DuckDBPyConnection) -> None:
    """Recompute every rollup from the raw tables (generator, migrations 2 and 3, repair)."""
    clear(con)
    tables = MINUTE_SQL.keys() | ACTIVITY_SQL.keys() | TOUCH_SQL.keys() | ENTITY_SQL.keys()
    apply(con, {t: t for t in sorted(tables)})


def compact(con: duckdb.DuckDBPyConnection, before: str | None = None) -> None:
    """Merge delta rows of the same key so rollups stay small under continuous ingestion."""
    sum_tiers = [("rollup_minute", "minute"), ("rollup_hour", "hour")]
    if has_v3(con):
        sum_tiers.append(("rollup_day", "day"))
    for table, key in sum_tiers:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE _c AS SELECT {key}, measure, dim, sum(value) AS value "
            f"FROM {table} GROUP BY ALL ORDER BY {key}"
        )
        con.execute(f"DELETE FROM {table}")
        con.execute(f"INSERT INTO {table} SELECT * FROM _c")
        con.execute("DROP TABLE _c")
    merchant_tiers = [("rollup_merchant_hour", "hour"), ("rollup_merchant_day", "day")]
    if has_v3(con):
        merchant_tiers.append(("rollup_merchant_week", "week"))
    for table, key in merchant_tiers:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE _c AS SELECT {key}, merchant_id, sum(orders)::BIGINT AS orders, "
            f"sum(gmv) AS gmv, sum(refunded) AS refunded, sum(member_gmv) AS member_gmv "
            f"FROM {table} GROUP BY ALL ORDER BY {key}, merchant_id"
        )
        con.execute(f"DELETE FROM {table}")
        con.execute(f"INSERT INTO {table} SELECT * FROM _c")
        con.execute("DROP TABLE _c")
    con.execute("CREATE OR REPLACE TEMP TABLE _t AS SELECT * FROM rollup_merchant_touch")
    con.execute("DELETE FROM rollup_merchant_touch")
    _insert_touch(con, "SELECT * FROM _t")
    con.execute("DROP TABLE _t")
    if has_v3(con):
        for table, key in (
            ("rollup_entity_hour", "hour"),
            ("rollup_entity_day", "day"),
            ("rollup_entity_week", "week"),
        ):
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE _c AS SELECT {key}, kind, entity_id, measure, "
                f"sum(value) AS value FROM {table} GROUP BY ALL ORDER BY {key}"
            )
            con.execute(f"DELETE FROM {table}")
            con.execute(f"INSERT INTO {table} SELECT * FROM _c")
            con.execute("DROP TABLE _c")
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _c AS SELECT hour, user_id, flags, bit_or(minutes) AS "
            "minutes FROM rollup_user_hour GROUP BY ALL ORDER BY hour"
        )
        con.execute("DELETE FROM rollup_user_hour")
        con.execute("INSERT INTO rollup_user_hour SELECT * FROM _c")
        con.execute("DROP TABLE _c")
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _c AS SELECT day, user_id, flags, bit_or(hours) AS "
            "hours FROM rollup_user_day GROUP BY ALL ORDER BY day"
        )
        con.execute("DELETE FROM rollup_user_day")
        con.execute("INSERT INTO rollup_user_day SELECT * FROM _c")
        con.execute("DROP TABLE _c")
    for table, key in (("rollup_active_hour_sample", "hour"), ("rollup_active_day_sample", "day")):
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE _c AS SELECT {key}, user_id, bit_or(flags)::INTEGER AS flags "
            f"FROM {table} GROUP BY ALL ORDER BY {key}"
        )
        con.execute(f"DELETE FROM {table}")
        con.execute(f"INSERT INTO {table} SELECT * FROM _c")
        con.execute("DROP TABLE _c")


def build_v3(con: duckdb.DuckDBPyConnection) -> None:
    """Fill the tables migration 3 adds from the raw tables (`ecotop migrate` of an older file)."""
    for t in V3_TABLES:
        con.execute(f"DELETE FROM {t}")
    con.execute(
        "INSERT INTO rollup_day SELECT date_trunc('day', hour) AS day, measure, dim, sum(value) "
        "FROM rollup_hour GROUP BY ALL HAVING sum(value) <> 0 ORDER BY day"
    )
    act = [ACTIVITY_SQL[t].format(src=t) for t in sorted(ACTIVITY_SQL)]
    con.execute(
        "INSERT INTO rollup_user_hour SELECT date_trunc('hour', ts) AS hour, user_id, "
        "flags::INTEGER, bit_or(1::BIGINT << ((epoch_ms(ts) - epoch_ms(date_trunc('hour', ts))) // 60000)"
        "::INTEGER) FROM (" + " UNION ALL ".join(act) + ") GROUP BY ALL ORDER BY hour"
    )
    con.execute(USER_DAY_SQL.format(src="rollup_user_hour"))
    con.execute(
        "INSERT INTO rollup_merchant_week SELECT date_trunc('week', day) AS k, merchant_id, "
        "sum(orders)::BIGINT, sum(gmv), sum(refunded), sum(member_gmv) FROM rollup_merchant_day "
        "GROUP BY ALL ORDER BY k, merchant_id"
    )
    ent = [ENTITY_SQL[t].format(src=t) for t in sorted(ENTITY_SQL)]
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _entity_delta AS "
        + " UNION ALL ".join(f"SELECT * FROM ({p})" for p in ent)
    )
    con.execute("INSERT INTO rollup_entity_hour SELECT * FROM _entity_delta ORDER BY hour")
    for unit in ("day", "week"):
        con.execute(
            f"INSERT INTO rollup_entity_{unit} SELECT date_trunc('{unit}', hour) AS k, kind, "
            "entity_id, measure, sum(value) FROM _entity_delta GROUP BY ALL ORDER BY k"
        )
    con.execute("DROP TABLE _entity_delta")
