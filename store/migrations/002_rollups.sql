-- ecotop schema version 2: rollups that make every overview panel independent of history size.
-- All rollups are additive: a row is a delta, several rows for one key are summed by readers.
-- This lets ingestion append a batch's deltas in the same transaction as the batch.

-- Sums per minute: measure (e.g. 'pay.gmv'), dim (e.g. an entry, a category, '' for none), value.
CREATE TABLE rollup_minute (
    minute  TIMESTAMPTZ NOT NULL,
    measure VARCHAR NOT NULL,
    dim     VARCHAR NOT NULL,
    value   DECIMAL(38, 2) NOT NULL
);

-- The same sums per hour, for long ranges.
CREATE TABLE rollup_hour (
    hour    TIMESTAMPTZ NOT NULL,
    measure VARCHAR NOT NULL,
    dim     VARCHAR NOT NULL,
    value   DECIMAL(38, 2) NOT NULL
);

-- Which sampled users (user_id % sample_mod = 0, sample_mod in ecotop_meta) did what in each hour
-- (flags: bit OR of store.rollups.FLAGS), for approximate distinct-user counts over 7d and 30d
-- (distinct counts are scaled back up by sample_mod). Up to 24h, distinct users come exactly from
-- the raw events (active_window).
CREATE TABLE rollup_active_hour_sample (
    hour    TIMESTAMPTZ NOT NULL,
    user_id BIGINT NOT NULL,
    flags   INTEGER NOT NULL
);

-- The same sampled users per UTC day (flags OR-ed over the day): 7d and 30d distinct counts read one
-- row per user and day for the whole days of a window and rollup_active_hour_sample only for its edge
-- hours (about 3x fewer rows than hours alone).
CREATE TABLE rollup_active_day_sample (
    day     TIMESTAMPTZ NOT NULL,
    user_id BIGINT NOT NULL,
    flags   INTEGER NOT NULL
);

-- Every user-level event of every pillar as (ts, user_id, flag): the raw side of distinct counts.
CREATE VIEW activity_events AS
    SELECT ts, user_id, 1 | (CASE WHEN video_call_minutes > 0 THEN 2 ELSE 0 END)
                          | (CASE WHEN moments_views > 0 THEN 4 ELSE 0 END)
                          | (CASE WHEN moments_posts > 0 THEN 8 ELSE 0 END) AS flags
    FROM app_sessions
    UNION ALL SELECT ts, user_id, 16 FROM oa_reads
    UNION ALL SELECT ts, user_id, 32 FROM mp_visits
    UNION ALL SELECT ts, user_id, CASE WHEN entry = 'mini_program' THEN 128 | 64 ELSE 128 END
              FROM transactions WHERE status <> 'failed'
    UNION ALL SELECT ts, user_id, 256 FROM payscore_orders
    UNION ALL SELECT ts, user_id, 512 FROM channel_views;

-- Sums of every rollup measure over [s, e) (minute-aligned): whole hours from rollup_hour, the
-- partial hours at either edge from rollup_minute. Exact.
CREATE MACRO rollup_window(s, e) AS TABLE
    SELECT measure, dim, value FROM rollup_hour
    WHERE hour >= date_trunc('hour', s + INTERVAL 59 MINUTE) AND hour < date_trunc('hour', e)
    UNION ALL
    SELECT measure, dim, value FROM rollup_minute
    WHERE minute >= s AND minute < e
      AND (minute < date_trunc('hour', s + INTERVAL 59 MINUTE)
           OR minute >= date_trunc('hour', e)
           OR date_trunc('hour', s + INTERVAL 59 MINUTE) >= date_trunc('hour', e));

-- (user_id, flags) rows of every user event in [s, e): exact. Group by user_id, bit_or(flags).
CREATE MACRO active_window(s, e) AS TABLE
    SELECT user_id, flags FROM activity_events WHERE ts >= s AND ts < e;

-- (user_id, flags) rows of the sampled users over the whole hours of [s, e): approximate.
CREATE MACRO active_window_sample(s, e) AS TABLE
    SELECT user_id, flags FROM rollup_active_hour_sample
    WHERE hour >= date_trunc('hour', s) AND hour < date_trunc('hour', e);
