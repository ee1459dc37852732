-- Distinct users per activity flag in the current window [$s, $e) and the previous one [$ps, $pe),
-- exactly, from the raw events (view activity_events). Used for ranges up to 24h.
-- Returns rows win = 'c' (current) and 'p' (previous), one column per flag of store.rollups.FLAGS.
WITH w AS (
    SELECT 'c' AS win, user_id, bit_or(flags) AS f FROM active_window($s, $e) GROUP BY user_id
    UNION ALL
    SELECT 'p' AS win, user_id, bit_or(flags) AS f FROM active_window($ps, $pe) GROUP BY user_id
)
SELECT win,
       count(*) FILTER (WHERE f & 1 <> 0) AS active,
       count(*) FILTER (WHERE f & 2 <> 0) AS video_call,
       count(*) FILTER (WHERE f & 4 <> 0) AS moments_view,
       count(*) FILTER (WHERE f & 8 <> 0) AS moments_post,
       count(*) FILTER (WHERE f & 16 <> 0) AS oa_reader,
       count(*) FILTER (WHERE f & 32 <> 0) AS mp_user,
       count(*) FILTER (WHERE f & 64 <> 0) AS mp_payer,
       count(*) FILTER (WHERE f & 128 <> 0) AS payer,
       count(*) FILTER (WHERE f & 256 <> 0) AS payscore_user,
       count(*) FILTER (WHERE f & 512 <> 0) AS channels_viewer
FROM w GROUP BY win
