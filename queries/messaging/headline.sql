-- Messaging & social headline sums over [$s, $e) and the previous window [$ps, $pe), from rollups.
-- Returns rows win = 'c' (current) and 'p' (previous), always both:
--   sessions            app sessions
--   opens               app opens (helper of opens per user)
--   messages            messages sent
--   video_calls         sessions with a video call
--   video_call_minutes  minutes of video calls
--   moments_views       Moments views
--   moments_posts       Moments posts (helper of posts per poster)
-- Distinct-user measures (DAU, callers, viewers, posters) come from users/active.
WITH r AS (
    SELECT 'c' AS win, measure, value FROM rollup_window($s, $e) WHERE measure LIKE 'msg.%'
    UNION ALL
    SELECT 'p', measure, value FROM rollup_window($ps, $pe) WHERE measure LIKE 'msg.%'
),
w AS (SELECT * FROM (VALUES ('c'), ('p')) v(win))
SELECT w.win,
       coalesce(sum(value) FILTER (WHERE measure = 'msg.sessions'), 0)::BIGINT AS sessions,
       coalesce(sum(value) FILTER (WHERE measure = 'msg.opens'), 0)::BIGINT AS opens,
       coalesce(sum(value) FILTER (WHERE measure = 'msg.messages'), 0)::BIGINT AS messages,
       coalesce(sum(value) FILTER (WHERE measure = 'msg.video_calls'), 0)::BIGINT AS video_calls,
       coalesce(sum(value) FILTER (WHERE measure = 'msg.video_call_minutes'), 0)::DOUBLE AS video_call_minutes,
       coalesce(sum(value) FILTER (WHERE measure = 'msg.moments_views'), 0)::BIGINT AS moments_views,
       coalesce(sum(value) FILTER (WHERE measure = 'msg.moments_posts'), 0)::BIGINT AS moments_posts
FROM w LEFT JOIN r USING (win) GROUP BY w.win ORDER BY w.win
