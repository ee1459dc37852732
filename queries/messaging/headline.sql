-- Messaging & social headline sums over [$s, $e) and the previous window [$ps, $pe), from rollups.
-- Returns rows win = 'c' (current) and 'p' (previous; absent without data):
--   opens               app opens (helper of opens per user)
--   video_call_minutes  minutes of video calls
--   moments_posts       Moments posts (helper of posts per poster)
-- Distinct-user measures (DAU, callers, viewers, posters) come from users/active.
WITH r AS (
    SELECT 'c' AS win, measure, value FROM rollup_window($s, $e) WHERE measure LIKE 'msg.%'
    UNION ALL
    SELECT 'p', measure, value FROM rollup_window($ps, $pe) WHERE measure LIKE 'msg.%'
)
SELECT win,
       coalesce(sum(value) FILTER (WHERE measure = 'msg.opens'), 0)::BIGINT AS opens,
       coalesce(sum(value) FILTER (WHERE measure = 'msg.video_call_minutes'), 0)::DOUBLE AS video_call_minutes,
       coalesce(sum(value) FILTER (WHERE measure = 'msg.moments_posts'), 0)::BIGINT AS moments_posts
FROM r GROUP BY win
