-- Approximate distinct users per activity flag over [$s, $e) and [$ps, $pe), for 7d and 30d: the
-- distinct users of a fixed sample (user_id % $mod = 0) times $mod, over the whole hours of each
-- window (from the hour holding its start up to the hour holding its end): its whole UTC days from
-- rollup_active_day_sample, the hours before and after them from rollup_active_hour_sample (half
-- the time of hours alone at scale 1). Within about 1% at scale 1 (the sample holds ~100k users).
-- Returns rows win = 'c' (current) and 'p' (previous; absent when it has no events), one column
-- per flag of ecotop.store.rollups.FLAGS (active, video_call, moments_view, moments_post, oa_reader,
-- mp_user, mp_payer, payer, payscore_user, channels_viewer).
WITH w AS (
    SELECT 'c' AS win, user_id, bit_or(flags) AS f FROM (
        SELECT user_id, flags FROM rollup_active_day_sample
        WHERE day >= date_trunc('day', date_trunc('hour', $s::TIMESTAMPTZ) + INTERVAL 23 HOUR) AND day < date_trunc('day', date_trunc('hour', $e::TIMESTAMPTZ))
        UNION ALL
        SELECT user_id, flags FROM rollup_active_hour_sample
        WHERE hour >= date_trunc('hour', $s::TIMESTAMPTZ) AND hour < least(date_trunc('day', date_trunc('hour', $s::TIMESTAMPTZ) + INTERVAL 23 HOUR), date_trunc('hour', $e::TIMESTAMPTZ))
        UNION ALL
        SELECT user_id, flags FROM rollup_active_hour_sample
        WHERE hour >= greatest(date_trunc('day', date_trunc('hour', $e::TIMESTAMPTZ)), date_trunc('day', date_trunc('hour', $s::TIMESTAMPTZ) + INTERVAL 23 HOUR), date_trunc('hour', $s::TIMESTAMPTZ)) AND hour < date_trunc('hour', $e::TIMESTAMPTZ)
    ) GROUP BY user_id
    UNION ALL
    SELECT 'p' AS win, user_id, bit_or(flags) AS f FROM (
        SELECT user_id, flags FROM rollup_active_day_sample
        WHERE day >= date_trunc('day', date_trunc('hour', $ps::TIMESTAMPTZ) + INTERVAL 23 HOUR) AND day < date_trunc('day', date_trunc('hour', $pe::TIMESTAMPTZ))
        UNION ALL
        SELECT user_id, flags FROM rollup_active_hour_sample
        WHERE hour >= date_trunc('hour', $ps::TIMESTAMPTZ) AND hour < least(date_trunc('day', date_trunc('hour', $ps::TIMESTAMPTZ) + INTERVAL 23 HOUR), date_trunc('hour', $pe::TIMESTAMPTZ))
        UNION ALL
        SELECT user_id, flags FROM rollup_active_hour_sample
        WHERE hour >= greatest(date_trunc('day', date_trunc('hour', $pe::TIMESTAMPTZ)), date_trunc('day', date_trunc('hour', $ps::TIMESTAMPTZ) + INTERVAL 23 HOUR), date_trunc('hour', $ps::TIMESTAMPTZ)) AND hour < date_trunc('hour', $pe::TIMESTAMPTZ)
    ) GROUP BY user_id
)
SELECT win,
       count(*) FILTER (WHERE f & 1 <> 0) * $mod AS active,
       count(*) FILTER (WHERE f & 2 <> 0) * $mod AS video_call,
       count(*) FILTER (WHERE f & 4 <> 0) * $mod AS moments_view,
       count(*) FILTER (WHERE f & 8 <> 0) * $mod AS moments_post,
       count(*) FILTER (WHERE f & 16 <> 0) * $mod AS oa_reader,
       count(*) FILTER (WHERE f & 32 <> 0) * $mod AS mp_user,
       count(*) FILTER (WHERE f & 64 <> 0) * $mod AS mp_payer,
       count(*) FILTER (WHERE f & 128 <> 0) * $mod AS payer,
       count(*) FILTER (WHERE f & 256 <> 0) * $mod AS payscore_user,
       count(*) FILTER (WHERE f & 512 <> 0) * $mod AS channels_viewer
FROM w GROUP BY win ORDER BY win
