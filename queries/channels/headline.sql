-- Channels headline measures over [$s, $e) and the previous window [$ps, $pe).
-- Sums come from rollups; live sessions from the small live_sessions table. Returns rows
-- win = 'c' (current) and 'p' (previous):
--   views               views of short videos and of lives
--   video_views, live_views  the same split by kind
--   completed           views watched to the end
--   completion_rate     completed / views (fraction)
--   watch_s             seconds watched
--   lives_started       live sessions started in the window
--   live_sessions       live sessions overlapping the window (started before its end, not ended
--                       before its start)
--   peak_viewers        the highest peak concurrent viewers of a live session overlapping the window
--   live_gmv            paid payments with entry channels_live, CNY (pay.gmv of that entry)
--   gmv_per_1k_viewers  live_gmv per 1,000 live views (GPM), CNY
WITH r AS (
    SELECT 'c' AS win, measure, dim, value FROM rollup_window($s, $e)
    WHERE measure LIKE 'ch.%' OR (measure = 'pay.gmv' AND dim = 'channels_live')
    UNION ALL
    SELECT 'p', measure, dim, value FROM rollup_window($ps, $pe)
    WHERE measure LIKE 'ch.%' OR (measure = 'pay.gmv' AND dim = 'channels_live')
),
w AS (SELECT * FROM (VALUES ('c'), ('p')) v(win)),
t AS (
    SELECT w.win,
           coalesce(sum(value) FILTER (WHERE measure = 'ch.views'), 0) AS views,
           coalesce(sum(value) FILTER (WHERE measure = 'ch.views' AND dim = 'video'), 0) AS video_views,
           coalesce(sum(value) FILTER (WHERE measure = 'ch.views' AND dim = 'live'), 0) AS live_views,
           coalesce(sum(value) FILTER (WHERE measure = 'ch.completed'), 0) AS completed,
           coalesce(sum(value) FILTER (WHERE measure = 'ch.watch_s'), 0) AS watch_s,
           coalesce(sum(value) FILTER (WHERE measure = 'ch.lives'), 0) AS lives_started,
           coalesce(sum(value) FILTER (WHERE measure = 'pay.gmv'), 0) AS live_gmv
    FROM w LEFT JOIN r USING (win) GROUP BY w.win
),
l AS (
    SELECT count(*) FILTER (WHERE started_at < $e AND (ended_at IS NULL OR ended_at > $s)) AS c,
           count(*) FILTER (WHERE started_at < $pe AND (ended_at IS NULL OR ended_at > $ps)) AS p,
           max(peak_viewers) FILTER (WHERE started_at < $e AND (ended_at IS NULL OR ended_at > $s)) AS pk_c,
           max(peak_viewers) FILTER (WHERE started_at < $pe AND (ended_at IS NULL OR ended_at > $ps)) AS pk_p
    FROM live_sessions
    WHERE started_at < greatest($e, $pe) AND (ended_at IS NULL OR ended_at > least($s, $ps))
)
SELECT t.win,
       views::BIGINT AS views,
       video_views::BIGINT AS video_views,
       live_views::BIGINT AS live_views,
       completed::BIGINT AS completed,
       completed::DOUBLE / nullif(views, 0) AS completion_rate,
       watch_s::BIGINT AS watch_s,
       lives_started::BIGINT AS lives_started,
       CASE t.win WHEN 'c' THEN l.c ELSE l.p END::BIGINT AS live_sessions,
       coalesce(CASE t.win WHEN 'c' THEN l.pk_c ELSE l.pk_p END, 0)::BIGINT AS peak_viewers,
       live_gmv::DECIMAL(38, 2) AS live_gmv,
       (live_gmv * 1000 / nullif(live_views, 0))::DECIMAL(38, 2) AS gmv_per_1k_viewers
FROM t, l
ORDER BY t.win
