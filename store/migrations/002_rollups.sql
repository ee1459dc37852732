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

-- Per-merchant sums of payments, for the merchants list (every merchant over any range, at 100k
-- merchants, without scanning raw payments). Additive deltas keyed by (hour | day, merchant_id), the
-- hour and the UTC day of the payment:
--   orders      paid payments (status success or refunded)
--   gmv         amount of paid payments, CNY, not net of refunds
--   refunded    amount of refunded payments, counted at the original payment
--   member_gmv  amount of paid payments whose payer was a member of the merchant when paying
--               (a memberships row of the same merchant and user with enrolled_at <= ts)
CREATE TABLE rollup_merchant_hour (
    hour        TIMESTAMPTZ NOT NULL,
    merchant_id BIGINT NOT NULL,
    orders      BIGINT NOT NULL,
    gmv         DECIMAL(18, 2) NOT NULL,
    refunded    DECIMAL(18, 2) NOT NULL,
    member_gmv  DECIMAL(18, 2) NOT NULL
);

CREATE TABLE rollup_merchant_day (
    day         TIMESTAMPTZ NOT NULL,
    merchant_id BIGINT NOT NULL,
    orders      BIGINT NOT NULL,
    gmv         DECIMAL(18, 2) NOT NULL,
    refunded    DECIMAL(18, 2) NOT NULL,
    member_gmv  DECIMAL(18, 2) NOT NULL
);

-- (merchant_id, orders, gmv, refunded, member_gmv) delta rows of the payments in the whole hours of
-- [s, e) (minute-aligned): whole UTC days from rollup_merchant_day, the other whole hours from
-- rollup_merchant_hour. The partial hours at either edge are merchant_edge_payments(s, e); together
-- they are every payment of [s, e), exactly.
CREATE MACRO merchant_rollup_window(s, e) AS TABLE
    SELECT merchant_id, orders, gmv, refunded, member_gmv FROM rollup_merchant_day
    WHERE day >= date_trunc('day', date_trunc('hour', s + INTERVAL 59 MINUTE) + INTERVAL 23 HOUR)
      AND day < date_trunc('day', date_trunc('hour', e))
    UNION ALL
    SELECT merchant_id, orders, gmv, refunded, member_gmv FROM rollup_merchant_hour
    WHERE hour >= date_trunc('hour', s + INTERVAL 59 MINUTE) AND hour < date_trunc('hour', e)
      AND (hour < date_trunc('day', date_trunc('hour', s + INTERVAL 59 MINUTE) + INTERVAL 23 HOUR)
           OR hour >= date_trunc('day', date_trunc('hour', e))
           OR date_trunc('day', date_trunc('hour', s + INTERVAL 59 MINUTE) + INTERVAL 23 HOUR)
              >= date_trunc('day', date_trunc('hour', e)));

-- The paid payments (merchant_id, user_id, ts, amount, status) of [s, e) outside its whole hours: the
-- minutes before the first whole hour and after the last (all of [s, e) when it holds no whole hour).
-- Two plain ts ranges, so the zone maps of the time-ordered payments keep the scan to those minutes.
CREATE MACRO merchant_edge_payments(s, e) AS TABLE
    SELECT merchant_id, user_id, ts, amount, status FROM transactions
    WHERE status <> 'failed' AND ts >= s AND ts < least(e, date_trunc('hour', s + INTERVAL 59 MINUTE))
    UNION ALL
    SELECT merchant_id, user_id, ts, amount, status FROM transactions
    WHERE status <> 'failed'
      AND ts >= greatest(s, date_trunc('hour', e), least(date_trunc('hour', s + INTERVAL 59 MINUTE), e))
      AND ts < e;

-- Every closed-loop event of every merchant, sorted by (merchant_id, ts) so that one merchant's rows sit
-- together and zone maps skip everyone else's: the merchant drill-down reads this instead of scanning
-- the raw tables (time-ordered) for one merchant. Append-only like the other rollups: ingestion appends
-- a batch's rows (sorted within the batch), a refund appends a step-10 row; `compact` re-sorts.
--   step     1 oa_read (a read of one of its Official Accounts), 2 mp_visit, 3 order (a payment
--            attempt that failed), 4 pay (a paid payment: success or refunded; it is an order too),
--            5 member (enrolment), 6 wecom_add (a WeCom contact added), 7 group_join (one of its
--            customer groups), 8 live_view (one of its Channels lives), 10 refund (of a step-4
--            payment, at the payment's ts, as the rollups count refunds)
--   amount   the payment amount (steps 3, 4, 10), CNY
--   detail   the payment entry (steps 3, 4, 10) or the enrolment channel (step 5)
--   ref_id   the live of a payment or live view (live_id), the group of a group join (group_id)
CREATE TABLE rollup_merchant_touch (
    merchant_id BIGINT NOT NULL,
    ts          TIMESTAMPTZ NOT NULL,
    user_id     BIGINT NOT NULL,
    step        UTINYINT NOT NULL,
    amount      DECIMAL(18, 2),
    detail      VARCHAR,
    ref_id      BIGINT
);
