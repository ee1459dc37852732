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
WITH src AS (
    SELECT minute AS t, measure, dim, value FROM rollup_minute
    WHERE minute >= $s AND minute < $e AND (measure LIKE 'ch.%' OR (measure = 'pay.gmv' AND dim = 'channels_live'))
      AND ($e - $s <= INTERVAL 24 HOUR
           OR minute < date_trunc('hour', $s + INTERVAL 59 MINUTE) OR minute >= date_trunc('hour', $e))
    UNION ALL
    SELECT hour, measure, dim, value FROM rollup_hour
    WHERE $e - $s > INTERVAL 24 HOUR AND (measure LIKE 'ch.%' OR (measure = 'pay.gmv' AND dim = 'channels_live'))
      AND hour >= date_trunc('hour', $s + INTERVAL 59 MINUTE) AND hour < date_trunc('hour', $e)
),
b AS (
    SELECT least($n - 1, greatest(0, floor((epoch(t) - epoch($s)) * $n / (epoch($e) - epoch($s)))))::BIGINT AS i,
           measure, dim, value
    FROM src
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
