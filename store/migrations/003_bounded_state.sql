-- ecotop schema version 3: the bounded state every screen reads (docs/ARCHITECTURE.md, "Bounded
-- state"). Like version 2's rollups, every row is an additive delta appended by ingestion in the
-- same transaction as its raw rows (store.rollups.apply); readers merge rows of one key.

-- The whole hours and whole UTC days of a minute-aligned window [s, e): hours [first_hour(s),
-- end_hour(e)), days [first_day(s), end_day(e)). Scalar macros, so a filter written with them on
-- constant s and e folds to a constant and zone maps can skip row groups.
CREATE MACRO first_hour(s) AS date_trunc('hour', s::TIMESTAMPTZ + INTERVAL 59 MINUTE);
CREATE MACRO end_hour(e) AS date_trunc('hour', e::TIMESTAMPTZ);
CREATE MACRO first_day(s) AS date_trunc('day', first_hour(s) + INTERVAL 23 HOUR);
CREATE MACRO end_day(e) AS date_trunc('day', end_hour(e));

-- The whole ISO weeks (Monday 00:00 UTC) of a window: [first_week(s), end_week(e)).
CREATE MACRO first_week(s) AS date_trunc('week', first_day(s) + INTERVAL 6 DAY);
CREATE MACRO end_week(e) AS date_trunc('week', end_day(e));

-- Exact per-hour user sets: which users did what in each hour, and in which minutes of it.
--   hour      the UTC hour of the events
--   flags     the activity flags of these events (store.rollups.FLAGS; one combination per row:
--             a user whose events in the hour carry different combinations has several rows)
--   minutes   bit m set when such an event happened in minute m of the hour (0..59)
-- Distinct users with flag f in any minute-aligned window [s, e): user_window(s, e) below, from
-- these rows for the window's partial edge hours and from rollup_user_day for its whole hours.
-- Exact for every window; never raw events.
CREATE TABLE rollup_user_hour (
    hour    TIMESTAMPTZ NOT NULL,
    user_id BIGINT NOT NULL,
    flags   INTEGER NOT NULL,
    minutes BIGINT NOT NULL
);

-- The bits of minutes m with hour + m minutes in [s, e), for an hour row (0 when none).
CREATE MACRO user_minute_mask(hour, s, e) AS (
    CASE
      WHEN least(60, greatest(0, (epoch_ms(e) - epoch_ms(hour)) // 60000))
           <= least(60, greatest(0, (epoch_ms(s) - epoch_ms(hour)) // 60000)) THEN 0::BIGINT
      ELSE (1::BIGINT << least(60, greatest(0, (epoch_ms(e) - epoch_ms(hour)) // 60000))::INTEGER)
           - (1::BIGINT << least(60, greatest(0, (epoch_ms(s) - epoch_ms(hour)) // 60000))::INTEGER)
    END
);

-- The same sets per UTC day: bit h of `hours` set when such an event happened in hour h of the day
-- (0..23). A 24h window reads the whole hours it covers from here (about one row per user and day
-- instead of one per active hour) and only its two partial edge hours from rollup_user_hour.
CREATE TABLE rollup_user_day (
    day     TIMESTAMPTZ NOT NULL,
    user_id BIGINT NOT NULL,
    flags   INTEGER NOT NULL,
    hours   INTEGER NOT NULL
);

-- The bits of hours h with day + h hours in [a, b), for a day row (0 when none).
CREATE MACRO user_hour_mask(day, a, b) AS (
    CASE
      WHEN least(24, greatest(0, (epoch_ms(b) - epoch_ms(day)) // 3600000))
           <= least(24, greatest(0, (epoch_ms(a) - epoch_ms(day)) // 3600000)) THEN 0
      ELSE ((1::BIGINT << least(24, greatest(0, (epoch_ms(b) - epoch_ms(day)) // 3600000))::INTEGER)
            - (1::BIGINT << least(24, greatest(0, (epoch_ms(a) - epoch_ms(day)) // 3600000))::INTEGER))::INTEGER
    END
);

-- (user_id, flags) rows of every user active in [s, e) (minute-aligned): exact. Group by user_id
-- and bit_or(flags) for each user's flags in the window. The whole hours [h1, he) come from the day
-- sets, the partial hours before h1 and from he on from the hour sets with their minute masks; each
-- part is a plain time range, so zone maps keep every scan to its rows.
CREATE MACRO user_window(s, e) AS TABLE
    SELECT user_id, flags FROM rollup_user_day
    WHERE day >= date_trunc('day', first_hour(s)) AND day < end_hour(e) AND first_hour(s) < end_hour(e)
      AND (hours & user_hour_mask(day, first_hour(s), end_hour(e))) <> 0
    UNION ALL
    SELECT user_id, flags FROM rollup_user_hour
    WHERE hour >= date_trunc('hour', s::TIMESTAMPTZ) AND hour < least(first_hour(s), e::TIMESTAMPTZ)
      AND (minutes & user_minute_mask(hour, s, e)) <> 0
    UNION ALL
    SELECT user_id, flags FROM rollup_user_hour
    WHERE hour >= greatest(end_hour(e), first_hour(s)) AND hour < e
      AND (minutes & user_minute_mask(hour, s, e)) <> 0;

-- The sums of rollup_hour per UTC day (same measures and dims): 7d and 30d read ~30 day rows per
-- measure instead of ~720 hour rows.
CREATE TABLE rollup_day (
    day     TIMESTAMPTZ NOT NULL,
    measure VARCHAR NOT NULL,
    dim     VARCHAR NOT NULL,
    value   DECIMAL(38, 2) NOT NULL
);

-- Sums of every rollup measure over [s, e) (minute-aligned), replacing version 2's macro, which read
-- every minute of [s, e) and dropped the whole hours' minutes after reading them (an OR the zone
-- maps cannot use; 24h read ~1,440 minutes of rows for two edges). Now each part is a plain time
-- range: whole UTC days from rollup_day, the other whole hours from rollup_hour, the minutes before
-- the first whole hour and from the last one on from rollup_minute. Exact.
CREATE OR REPLACE MACRO rollup_window(s, e) AS TABLE
    SELECT measure, dim, value FROM rollup_day
    WHERE day >= first_day(s) AND day < end_day(e)
    UNION ALL
    SELECT measure, dim, value FROM rollup_hour
    WHERE hour >= first_hour(s)
      AND hour < CASE WHEN first_day(s) < end_day(e) THEN first_day(s) ELSE end_hour(e) END
    UNION ALL
    SELECT measure, dim, value FROM rollup_hour
    WHERE hour >= end_day(e) AND hour < end_hour(e) AND first_day(s) < end_day(e)
    UNION ALL
    SELECT measure, dim, value FROM rollup_minute
    WHERE minute >= s AND minute < least(e::TIMESTAMPTZ, first_hour(s))
    UNION ALL
    SELECT measure, dim, value FROM rollup_minute
    WHERE minute >= greatest(s::TIMESTAMPTZ, end_hour(e), least(first_hour(s), e::TIMESTAMPTZ))
      AND minute < e;

-- Per-entity sums for the pillar views' top-N tables, per UTC hour and per UTC day:
--   kind       mp (a Mini Program: visits), mpm (a merchant's Mini Program payments: orders, gmv),
--              oa (an Official Account: reads, shares, follows, unfollows), ch (a Channels
--              channel: views, live_views, completed, live_gmv), live (a live session: orders, gmv),
--              corp (a WeCom enterprise: added, removed, messages, targeted, delivered)
--   entity_id  the id of that kind (mp_id, merchant_id, account_id, channel_id, live_id, corp_id)
--   measure    what is summed; value: the sum (money in CNY)
CREATE TABLE rollup_entity_hour (
    hour      TIMESTAMPTZ NOT NULL,
    kind      VARCHAR NOT NULL,
    entity_id BIGINT NOT NULL,
    measure   VARCHAR NOT NULL,
    value     DECIMAL(38, 2) NOT NULL
);

CREATE TABLE rollup_entity_day (
    day       TIMESTAMPTZ NOT NULL,
    kind      VARCHAR NOT NULL,
    entity_id BIGINT NOT NULL,
    measure   VARCHAR NOT NULL,
    value     DECIMAL(38, 2) NOT NULL
);

-- The same per ISO week (Monday 00:00 UTC): a 30-day top table reads ~4 weeks, ~6 days and the
-- edge hours of rows per entity instead of 30 days.
CREATE TABLE rollup_entity_week (
    week      TIMESTAMPTZ NOT NULL,
    kind      VARCHAR NOT NULL,
    entity_id BIGINT NOT NULL,
    measure   VARCHAR NOT NULL,
    value     DECIMAL(38, 2) NOT NULL
);

-- Per-entity events (ts, kind, entity_id, measure, value) of the raw tables in [a, b): the same
-- rows store.rollups.ENTITY_SQL sums into the tables above, for the partial hours at a window's
-- edges. Plain ts ranges, so zone maps keep each scan to those minutes.
CREATE MACRO entity_events(a, b) AS TABLE
    SELECT ts, 'mp' AS kind, mp_id AS entity_id, 'visits' AS measure, 1::DECIMAL(38, 2) AS value
    FROM mp_visits WHERE ts >= a AND ts < b
    UNION ALL
    SELECT ts, 'mpm', merchant_id, 'orders', 1 FROM transactions
    WHERE ts >= a AND ts < b AND entry = 'mini_program' AND status <> 'failed'
    UNION ALL
    SELECT ts, 'mpm', merchant_id, 'gmv', amount FROM transactions
    WHERE ts >= a AND ts < b AND entry = 'mini_program' AND status <> 'failed'
    UNION ALL
    SELECT ts, 'oa', account_id, 'reads', 1 FROM oa_reads WHERE ts >= a AND ts < b
    UNION ALL
    SELECT ts, 'oa', account_id, 'shares', 1 FROM oa_reads WHERE ts >= a AND ts < b AND shared
    UNION ALL
    SELECT ts, 'oa', account_id, action || 's', 1 FROM oa_follows WHERE ts >= a AND ts < b
    UNION ALL
    SELECT ts, 'ch', channel_id, 'views', 1 FROM channel_views WHERE ts >= a AND ts < b
    UNION ALL
    SELECT ts, 'ch', channel_id, 'live_views', 1 FROM channel_views
    WHERE ts >= a AND ts < b AND live_id IS NOT NULL
    UNION ALL
    SELECT ts, 'ch', channel_id, 'completed', 1 FROM channel_views WHERE ts >= a AND ts < b AND completed
    UNION ALL
    SELECT t.ts, 'ch', l.channel_id, 'live_gmv', t.amount
    FROM transactions t JOIN live_sessions l USING (live_id)
    WHERE t.ts >= a AND t.ts < b AND t.entry = 'channels_live' AND t.status <> 'failed'
    UNION ALL
    SELECT ts, 'live', live_id, 'orders', 1 FROM transactions
    WHERE ts >= a AND ts < b AND entry = 'channels_live' AND status <> 'failed' AND live_id IS NOT NULL
    UNION ALL
    SELECT ts, 'live', live_id, 'gmv', amount FROM transactions
    WHERE ts >= a AND ts < b AND entry = 'channels_live' AND status <> 'failed' AND live_id IS NOT NULL
    UNION ALL
    SELECT ts, 'corp', corp_id, CASE action WHEN 'add' THEN 'added' ELSE 'removed' END, 1
    FROM wecom_contacts WHERE ts >= a AND ts < b
    UNION ALL
    SELECT ts, 'corp', corp_id, 'messages', 1 FROM wecom_messages WHERE ts >= a AND ts < b
    UNION ALL
    SELECT ts, 'corp', corp_id, 'targeted', targeted FROM wecom_messages WHERE ts >= a AND ts < b
    UNION ALL
    SELECT ts, 'corp', corp_id, 'delivered', delivered FROM wecom_messages WHERE ts >= a AND ts < b;

-- (kind, entity_id, measure, value) delta rows of every entity event in [s, e) (minute-aligned),
-- for the kinds in the list `kinds`: whole ISO weeks from rollup_entity_week, the other whole UTC
-- days from rollup_entity_day, the other whole hours from rollup_entity_hour, the partial hours at
-- either edge from the raw events (entity_events). Exact; its cost does not grow with the history,
-- and with the window only by a few rows per entity (at most 2 partial hours of raw rows).
CREATE MACRO entity_window(s, e, kinds) AS TABLE
    SELECT kind, entity_id, measure, value FROM rollup_entity_week
    WHERE list_contains(kinds, kind) AND week >= first_week(s) AND week < end_week(e)
    UNION ALL
    SELECT kind, entity_id, measure, value FROM rollup_entity_day
    WHERE list_contains(kinds, kind) AND day >= first_day(s)
      AND day < CASE WHEN first_week(s) < end_week(e) THEN first_week(s) ELSE end_day(e) END
    UNION ALL
    SELECT kind, entity_id, measure, value FROM rollup_entity_day
    WHERE list_contains(kinds, kind) AND day >= end_week(e) AND day < end_day(e)
      AND first_week(s) < end_week(e)
    UNION ALL
    SELECT kind, entity_id, measure, value FROM rollup_entity_hour
    WHERE list_contains(kinds, kind) AND hour >= first_hour(s)
      AND hour < CASE WHEN first_day(s) < end_day(e) THEN first_day(s) ELSE end_hour(e) END
    UNION ALL
    SELECT kind, entity_id, measure, value FROM rollup_entity_hour
    WHERE list_contains(kinds, kind) AND hour >= end_day(e) AND hour < end_hour(e)
      AND first_day(s) < end_day(e)
    UNION ALL
    SELECT kind, entity_id, measure, value
    FROM entity_events(s, least(e::TIMESTAMPTZ, first_hour(s)))
    WHERE list_contains(kinds, kind)
    UNION ALL
    SELECT kind, entity_id, measure, value
    FROM entity_events(greatest(s::TIMESTAMPTZ, end_hour(e), least(first_hour(s), e::TIMESTAMPTZ)), e)
    WHERE list_contains(kinds, kind);

-- Per-merchant payment sums per ISO week (weeks starting Monday 00:00 UTC), the third tier of
-- rollup_merchant_hour / rollup_merchant_day (same columns and meaning): a 30-day merchant list
-- reads about 4 weeks, 6 days and 24 hours of rows instead of 30 days.
CREATE TABLE rollup_merchant_week (
    week        TIMESTAMPTZ NOT NULL,
    merchant_id BIGINT NOT NULL,
    orders      BIGINT NOT NULL,
    gmv         DECIMAL(18, 2) NOT NULL,
    refunded    DECIMAL(18, 2) NOT NULL,
    member_gmv  DECIMAL(18, 2) NOT NULL
);

-- Version 2's merchant_rollup_window with the week tier: whole weeks from rollup_merchant_week, the
-- other whole days from rollup_merchant_day, the other whole hours from rollup_merchant_hour (same
-- rows and meaning; the partial edge hours are still merchant_edge_payments). A 30-day window reads
-- about 4 weeks, 6 days and 24 hours of rows per merchant instead of 30 days.
CREATE OR REPLACE MACRO merchant_rollup_window(s, e) AS TABLE
    SELECT merchant_id, orders, gmv, refunded, member_gmv FROM rollup_merchant_week
    WHERE week >= first_week(s) AND week < end_week(e)
    UNION ALL
    SELECT merchant_id, orders, gmv, refunded, member_gmv FROM rollup_merchant_day
    WHERE day >= first_day(s)
      AND day < CASE WHEN first_week(s) < end_week(e) THEN first_week(s) ELSE end_day(e) END
    UNION ALL
    SELECT merchant_id, orders, gmv, refunded, member_gmv FROM rollup_merchant_day
    WHERE day >= end_week(e) AND day < end_day(e) AND first_week(s) < end_week(e)
    UNION ALL
    SELECT merchant_id, orders, gmv, refunded, member_gmv FROM rollup_merchant_hour
    WHERE hour >= first_hour(s)
      AND hour < CASE WHEN first_day(s) < end_day(e) THEN first_day(s) ELSE end_hour(e) END
    UNION ALL
    SELECT merchant_id, orders, gmv, refunded, member_gmv FROM rollup_merchant_hour
    WHERE hour >= end_day(e) AND hour < end_hour(e) AND first_day(s) < end_day(e);

-- The sums of every rollup measure per bucket over [s, e) split into n equal buckets, for one
-- measure prefix (e.g. 'pay.%'): the preamble every <pillar>/series query shares. Up to 24h from
-- rollup_minute; beyond, from rollup_hour for whole hours (an hour counts in the bucket where it
-- starts) plus rollup_minute for the partial hours at either edge, so the buckets add up to the
-- window's totals. Returns (i, measure, dim, value) delta rows; i is 0 .. n - 1.
CREATE MACRO rollup_buckets(s, e, n, pattern) AS TABLE
    SELECT least(n - 1, greatest(0, floor((epoch(t) - epoch(s)) * n / (epoch(e) - epoch(s)))))::BIGINT AS i,
           measure, dim, value
    FROM (
        SELECT minute AS t, measure, dim, value FROM rollup_minute
        WHERE minute >= s AND measure LIKE pattern
          AND minute < CASE WHEN e - s <= INTERVAL 24 HOUR THEN e::TIMESTAMPTZ
                            ELSE least(e::TIMESTAMPTZ, first_hour(s)) END
        UNION ALL
        SELECT minute, measure, dim, value FROM rollup_minute
        WHERE e - s > INTERVAL 24 HOUR AND measure LIKE pattern
          AND minute >= greatest(s::TIMESTAMPTZ, end_hour(e), least(first_hour(s), e::TIMESTAMPTZ))
          AND minute < e
        UNION ALL
        SELECT hour, measure, dim, value FROM rollup_hour
        WHERE e - s > INTERVAL 24 HOUR AND measure LIKE pattern
          AND hour >= first_hour(s) AND hour < end_hour(e)
    );
