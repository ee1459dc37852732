-- Messaging & social sums per bucket over [$s, $e): the window split into $n equal buckets, from rollups.
-- Up to 24h the buckets are summed from rollup_minute (exact); beyond, from rollup_hour for whole
-- hours (an hour counts in the bucket where it starts) plus rollup_minute for the partial hours at
-- either edge, so the buckets always add up to the window's headline totals.
-- Returns $n rows, oldest first (empty buckets are zeros):
--   i       bucket number 0 .. $n - 1
--   bucket  start of the bucket (TIMESTAMPTZ)
--   sessions            app sessions
--   opens               app opens
--   messages            messages sent
--   video_calls         sessions with a video call
--   video_call_minutes  minutes of video calls
--   moments_views       Moments views
--   moments_posts       Moments posts
WITH b AS (
    -- the shared preamble: rollup_buckets (store/migrations/003_bounded_state.sql)
    SELECT * FROM rollup_buckets($s, $e, $n, 'msg.%')
),
g AS (
    SELECT g.i,
           coalesce(sum(value) FILTER (WHERE measure = 'msg.sessions'), 0) AS sessions,
           coalesce(sum(value) FILTER (WHERE measure = 'msg.opens'), 0) AS opens,
           coalesce(sum(value) FILTER (WHERE measure = 'msg.messages'), 0) AS messages,
           coalesce(sum(value) FILTER (WHERE measure = 'msg.video_calls'), 0) AS video_calls,
           coalesce(sum(value) FILTER (WHERE measure = 'msg.video_call_minutes'), 0) AS video_call_minutes,
           coalesce(sum(value) FILTER (WHERE measure = 'msg.moments_views'), 0) AS moments_views,
           coalesce(sum(value) FILTER (WHERE measure = 'msg.moments_posts'), 0) AS moments_posts
    FROM range($n) g(i) LEFT JOIN b USING (i) GROUP BY g.i
)
SELECT i, $s + to_microseconds((i * (epoch($e) - epoch($s)) * 1000000 // $n)::BIGINT) AS bucket,
       sessions::BIGINT AS sessions,
       opens::BIGINT AS opens,
       messages::BIGINT AS messages,
       video_calls::BIGINT AS video_calls,
       video_call_minutes::DOUBLE AS video_call_minutes,
       moments_views::BIGINT AS moments_views,
       moments_posts::BIGINT AS moments_posts
FROM g ORDER BY i
