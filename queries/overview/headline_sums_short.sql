-- overview/headline_sums for windows of at most an hour (15m, 1h): the same rows from rollup_minute
-- alone, one plain time range per window (six scans instead of thirty: planning the general query
-- cost more than running it). Windows: 'c' = [$s, $e), 'p' = [$ps, $pe), and for the Pay Score
-- collection cohorts the same windows shifted back 7 and 30 days ('c7', 'p7', 'c30', 'p30').
-- Returns one row per window, measure and dim with data:
--   win      c | p | c7 | p7 | c30 | p30
--   measure  a rollup measure (pay.gmv, msg.sessions, ...)
--   dim      its dimension ('' for none)
--   value    the sum (DECIMAL)
SELECT win, measure, dim, sum(value) AS value FROM (
    SELECT 'c' AS win, measure, dim, value FROM rollup_minute WHERE minute >= $s AND minute < $e
    UNION ALL
    SELECT 'p', measure, dim, value FROM rollup_minute WHERE minute >= $ps AND minute < $pe
    UNION ALL
    SELECT 'c7', measure, dim, value FROM rollup_minute
    WHERE minute >= $s - INTERVAL 7 DAY AND minute < $e - INTERVAL 7 DAY
      AND measure IN ('ps.completed', 'ps.paid_d7')
    UNION ALL
    SELECT 'p7', measure, dim, value FROM rollup_minute
    WHERE minute >= $ps - INTERVAL 7 DAY AND minute < $pe - INTERVAL 7 DAY
      AND measure IN ('ps.completed', 'ps.paid_d7')
    UNION ALL
    SELECT 'c30', measure, dim, value FROM rollup_minute
    WHERE minute >= $s - INTERVAL 30 DAY AND minute < $e - INTERVAL 30 DAY
      AND measure IN ('ps.completed', 'ps.paid_d30')
    UNION ALL
    SELECT 'p30', measure, dim, value FROM rollup_minute
    WHERE minute >= $ps - INTERVAL 30 DAY AND minute < $pe - INTERVAL 30 DAY
      AND measure IN ('ps.completed', 'ps.paid_d30')
)
WHERE measure NOT IN ('ind.gmv', 'ps.state')
GROUP BY ALL
