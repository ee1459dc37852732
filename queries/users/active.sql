-- Distinct users per activity flag in the current window [$s, $e) and the baseline window [$ps, $pe)
-- (the previous window, or the same window a day or a week earlier), exactly, from the per-hour user
-- sets (rollup_user_hour through the user_window macro): the hours a window overlaps, each row kept
-- when a minute of its events falls inside the window. Used for ranges up to 24h; it reads about 25
-- hours of user sets per window, never raw events, whatever the history.
-- Returns rows win = 'c' (current) and 'p' (baseline; absent when it has no events), one column
-- per flag of ecotop.store.rollups.FLAGS (active, video_call, moments_view, moments_post, oa_reader,
-- mp_user, mp_payer, payer, payscore_user, channels_viewer).
WITH u AS (
    SELECT 'c' AS win, user_id, bit_or(flags) AS f FROM user_window($s, $e) GROUP BY user_id
    UNION ALL
    SELECT 'p' AS win, user_id, bit_or(flags) AS f FROM user_window($ps, $pe) GROUP BY user_id
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
FROM u GROUP BY win ORDER BY win
