-- users/active_approx for files made before rollup_active_day_sample existed: the same numbers from
-- the hour table alone (about twice the time at scale 1). Approximate distinct users per activity
-- flag over [$s, $e) and [$ps, $pe), for 7d and 30d: the
-- distinct users of a fixed sample (user_id % $mod = 0, rollup_active_hour_sample) times $mod, over
-- whole hours. Within about 1% at scale 1 (the sample holds ~100k users).
-- Returns rows win = 'c' (current) and 'p' (previous), one column per flag of ecotop.store.rollups.FLAGS.
WITH w AS (
    SELECT 'c' AS win, user_id, bit_or(flags) AS f FROM active_window_sample($s, $e) GROUP BY user_id
    UNION ALL
    SELECT 'p' AS win, user_id, bit_or(flags) AS f FROM active_window_sample($ps, $pe) GROUP BY user_id
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
FROM w GROUP BY win
