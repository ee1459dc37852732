-- Channels sums per bucket over [$s, $e): the window split into $n equal buckets, from rollups.
-- Up to 24h the buckets are summed from rollup_minute (exact); beyond, from rollup_hour for whole
-- hours (an hour counts in the bucket where it starts) plus rollup_minute for the partial hours at
-- either edge, so the buckets always add up to the window's headline totals.
-- Returns $n rows, oldest first (empty buckets are zeros):
--   i       bucket number 0 .. $n - 1
--   bucket  start of the bucket (TIMESTAMPTZ)
--   views            views of videos and lives
--   video_views      views of short videos
--   live_views       views of lives
--   completed        views watched to the end
--   lives_started    live sessions started
--   live_gmv         payments with entry channels_live, CNY
--   completion_rate  completed / views
WITH b AS (
    -- the shared preamble: rollup_buckets (store/migrations/003_bounded_state.sql)
    SELECT * FROM rollup_buckets($s, $e, $n, 'ch.%')
    UNION ALL
    SELECT * FROM rollup_buckets($s, $e, $n, 'pay.gmv') WHERE dim = 'channels_live'
),
g AS (
    SELECT g.i,
           coalesce(sum(value) FILTER (WHERE measure = 'ch.views'), 0) AS views,
           coalesce(sum(value) FILTER (WHERE measure = 'ch.views' AND dim = 'video'), 0) AS video_views,
           coalesce(sum(value) FILTER (WHERE measure = 'ch.views' AND dim = 'live'), 0) AS live_views,
           coalesce(sum(value) FILTER (WHERE measure = 'ch.completed'), 0) AS completed,
           coalesce(sum(value) FILTER (WHERE measure = 'ch.lives'), 0) AS lives_started,
           coalesce(sum(value) FILTER (WHERE measure = 'pay.gmv'), 0) AS live_gmv
    FROM range($n) g(i) LEFT JOIN b USING (i) GROUP BY g.i
)
SELECT i, $s + to_microseconds((i * (epoch($e) - epoch($s)) * 1000000 // $n)::BIGINT) AS bucket,
       views::BIGINT AS views,
       video_views::BIGINT AS video_views,
       live_views::BIGINT AS live_views,
       completed::BIGINT AS completed,
       lives_started::BIGINT AS lives_started,
       live_gmv::DECIMAL(38, 2) AS live_gmv,
       completed::DOUBLE / nullif(views, 0) AS completion_rate
FROM g ORDER BY i
