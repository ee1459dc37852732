-- Messaging activity by local weekday and hour over [$s, $e), in the display zone $tz (e.g.
-- 'Asia/Shanghai'), from rollups (rollup_minute up to 24h; beyond, whole hours from rollup_hour plus
-- the partial edge hours from rollup_minute). Always 168 rows (7 x 24), Monday 00:00 first:
--   weekday   ISO day of week, 1 = Monday .. 7 = Sunday
--   hour      local hour 0 .. 23
--   sessions  app sessions
--   messages  messages sent
WITH src AS (
    SELECT minute AS t, measure, value FROM rollup_minute
    WHERE minute >= $s AND minute < $e AND measure IN ('msg.sessions', 'msg.messages')
      AND ($e - $s <= INTERVAL 24 HOUR
           OR minute < date_trunc('hour', $s + INTERVAL 59 MINUTE) OR minute >= date_trunc('hour', $e))
    UNION ALL
    SELECT hour, measure, value FROM rollup_hour
    WHERE $e - $s > INTERVAL 24 HOUR AND measure IN ('msg.sessions', 'msg.messages')
      AND hour >= date_trunc('hour', $s + INTERVAL 59 MINUTE) AND hour < date_trunc('hour', $e)
),
l AS (
    SELECT isodow(timezone($tz, t)) AS weekday, hour(timezone($tz, t)) AS hour,
           sum(value) FILTER (WHERE measure = 'msg.sessions') AS sessions,
           sum(value) FILTER (WHERE measure = 'msg.messages') AS messages
    FROM src GROUP BY ALL
),
grid AS (SELECT d AS weekday, h AS hour FROM range(1, 8) a(d), range(24) b(h))
SELECT grid.weekday::INTEGER AS weekday, grid.hour::INTEGER AS hour,
       coalesce(sessions, 0)::BIGINT AS sessions,
       coalesce(messages, 0)::BIGINT AS messages
FROM grid LEFT JOIN l USING (weekday, hour)
ORDER BY weekday, hour
