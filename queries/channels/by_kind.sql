-- Channels short videos against lives over [$s, $e), with the previous window [$ps, $pe), from
-- rollups. Two rows, kind = 'video' and 'live' (always both):
--   kind             video | live
--   views            views
--   views_share      views / all views (fraction)
--   completed        views watched to the end
--   completion_rate  completed / views (fraction)
--   watch_s          seconds watched
--   avg_watch_s      watch_s / views
--   views_previous   views in the previous window
--   gmv              live GMV (payments with entry channels_live), CNY; 0 for video
WITH r AS (
    SELECT 'c' AS win, measure, dim, value FROM rollup_window($s, $e)
    WHERE measure LIKE 'ch.%' OR (measure = 'pay.gmv' AND dim = 'channels_live')
    UNION ALL
    SELECT 'p', measure, dim, value FROM rollup_window($ps, $pe) WHERE measure = 'ch.views'
),
k AS (SELECT * FROM (VALUES ('video'), ('live')) v(kind)),
t AS (
    SELECT k.kind,
           coalesce(sum(value) FILTER (WHERE win = 'c' AND measure = 'ch.views' AND dim = k.kind), 0) AS views,
           coalesce(sum(value) FILTER (WHERE win = 'c' AND measure = 'ch.completed' AND dim = k.kind), 0) AS completed,
           coalesce(sum(value) FILTER (WHERE win = 'c' AND measure = 'ch.watch_s' AND dim = k.kind), 0) AS watch_s,
           coalesce(sum(value) FILTER (WHERE win = 'p' AND measure = 'ch.views' AND dim = k.kind), 0) AS views_p,
           coalesce(sum(value) FILTER (WHERE win = 'c' AND measure = 'pay.gmv' AND k.kind = 'live'), 0) AS gmv
    FROM k CROSS JOIN r GROUP BY k.kind
)
SELECT k.kind,
       coalesce(views, 0)::BIGINT AS views,
       coalesce(views, 0)::DOUBLE / nullif(sum(views) OVER (), 0) AS views_share,
       coalesce(completed, 0)::BIGINT AS completed,
       completed::DOUBLE / nullif(views, 0) AS completion_rate,
       coalesce(watch_s, 0)::BIGINT AS watch_s,
       watch_s::DOUBLE / nullif(views, 0) AS avg_watch_s,
       coalesce(views_p, 0)::BIGINT AS views_previous,
       coalesce(gmv, 0)::DECIMAL(38, 2) AS gmv
FROM k LEFT JOIN t USING (kind)
ORDER BY CASE k.kind WHEN 'video' THEN 0 ELSE 1 END
