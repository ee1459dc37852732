-- Top $n Channels accounts by views over [$s, $e), with their lives and live GMV, and the
-- previous window [$ps, $pe). Reads raw channel_views, live_sessions and transactions (a detail
-- table: the overview never runs it). Most views first:
--   channel_id, name, merchant_id (NULL for creators), followers
--   views            views of its videos and lives
--   live_views       views of its lives
--   completion_rate  views watched to the end / views (fraction)
--   lives            its live sessions overlapping the window
--   peak_viewers     the highest peak concurrent viewers of those lives
--   live_gmv         payments with entry channels_live in its lives, CNY
--   views_previous   views in the previous window
--   views_growth     views / views_previous - 1 (fraction)
WITH v AS (
    SELECT channel_id,
           count(*) FILTER (WHERE ts >= $s AND ts < $e) AS views,
           count(*) FILTER (WHERE ts >= $s AND ts < $e AND live_id IS NOT NULL) AS live_views,
           count(*) FILTER (WHERE ts >= $s AND ts < $e AND completed) AS completed,
           count(*) FILTER (WHERE ts >= $ps AND ts < $pe) AS views_p
    FROM channel_views
    WHERE ts >= least($s, $ps) AND ts < greatest($e, $pe)
      AND ((ts >= $s AND ts < $e) OR (ts >= $ps AND ts < $pe))
    GROUP BY channel_id
),
top AS (SELECT * FROM v WHERE views > 0 ORDER BY views DESC, channel_id LIMIT $n),
l AS (
    SELECT channel_id, count(*) AS lives, max(peak_viewers) AS peak_viewers
    FROM live_sessions
    WHERE started_at < $e AND (ended_at IS NULL OR ended_at > $s)
      AND channel_id IN (SELECT channel_id FROM top)
    GROUP BY channel_id
),
g AS (
    SELECT s.channel_id, sum(t.amount) AS live_gmv
    FROM transactions t JOIN live_sessions s USING (live_id)
    WHERE t.entry = 'channels_live' AND t.status <> 'failed' AND t.ts >= $s AND t.ts < $e
      AND s.channel_id IN (SELECT channel_id FROM top)
    GROUP BY s.channel_id
)
SELECT top.channel_id, c.name, c.merchant_id, c.followers,
       views::BIGINT AS views,
       live_views::BIGINT AS live_views,
       completed::DOUBLE / nullif(views, 0) AS completion_rate,
       coalesce(lives, 0)::BIGINT AS lives,
       coalesce(peak_viewers, 0)::BIGINT AS peak_viewers,
       coalesce(live_gmv, 0)::DECIMAL(38, 2) AS live_gmv,
       views_p::BIGINT AS views_previous,
       views::DOUBLE / nullif(views_p, 0) - 1 AS views_growth
FROM top
LEFT JOIN channels c USING (channel_id)
LEFT JOIN l USING (channel_id)
LEFT JOIN g USING (channel_id)
ORDER BY views DESC, top.channel_id
