-- Top $n Channels accounts by views over [$s, $e), with their lives and live GMV, and the
-- previous window [$ps, $pe). Reads the per-entity rollups (entity_window: whole days and hours,
-- raw rows only for the partial edge hours) and the lives of the top channels. Most views first:
--   channel_id, name, merchant_id (NULL for creators), followers
--   views            views of its videos and lives
--   live_views       views of its lives
--   completion_rate  views watched to the end / views (fraction)
--   lives            its live sessions overlapping the window
--   peak_viewers     the highest peak concurrent viewers of those lives
--   live_gmv         payments with entry channels_live in its lives, CNY
--   views_previous   views in the previous window
--   views_growth     views / views_previous - 1 (fraction)
WITH x AS (
    SELECT 'c' AS win, * FROM entity_window($s, $e, ['ch'])
    UNION ALL
    SELECT 'p' AS win, * FROM entity_window($ps, $pe, ['ch']) WHERE measure = 'views'
),
v AS (
    SELECT entity_id AS channel_id,
           coalesce(sum(value) FILTER (WHERE win = 'c' AND measure = 'views'), 0) AS views,
           coalesce(sum(value) FILTER (WHERE win = 'c' AND measure = 'live_views'), 0) AS live_views,
           coalesce(sum(value) FILTER (WHERE win = 'c' AND measure = 'completed'), 0) AS completed,
           coalesce(sum(value) FILTER (WHERE win = 'c' AND measure = 'live_gmv'), 0) AS live_gmv,
           coalesce(sum(value) FILTER (WHERE win = 'p'), 0) AS views_p
    FROM x GROUP BY entity_id
),
top AS (SELECT * FROM v WHERE views > 0 ORDER BY views DESC, channel_id LIMIT $n),
l AS (
    SELECT channel_id, count(*) AS lives, max(peak_viewers) AS peak_viewers
    FROM live_sessions
    WHERE started_at < $e AND (ended_at IS NULL OR ended_at > $s)
      AND channel_id IN (SELECT channel_id FROM top)
    GROUP BY channel_id
)
SELECT top.channel_id, c.name, c.merchant_id, c.followers,
       views::BIGINT AS views,
       live_views::BIGINT AS live_views,
       completed::DOUBLE / nullif(views, 0) AS completion_rate,
       coalesce(lives, 0)::BIGINT AS lives,
       coalesce(peak_viewers, 0)::BIGINT AS peak_viewers,
       live_gmv::DECIMAL(38, 2) AS live_gmv,
       views_p::BIGINT AS views_previous,
       views::DOUBLE / nullif(views_p, 0) - 1 AS views_growth
FROM top
LEFT JOIN channels c USING (channel_id)
LEFT JOIN l USING (channel_id)
ORDER BY views DESC, top.channel_id
