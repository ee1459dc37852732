-- Every rollup sum the headline measures need, in one pass (what kpis() runs; each pillar's
-- <pillar>/headline computes the same measures on its own). Windows: 'c' = [$s, $e), 'p' =
-- [$ps, $pe), and for the Pay Score collection cohorts the same windows shifted back 7 and 30 days
-- ('c7', 'p7', 'c30', 'p30'; completions and payments only).
-- Returns one row per window, measure and dim with data:
--   win      c | p | c7 | p7 | c30 | p30
--   measure  a rollup measure (pay.gmv, msg.sessions, ...)
--   dim      its dimension ('' for none)
--   value    the sum (DECIMAL)
SELECT win, measure, dim, sum(value) AS value FROM (
    SELECT 'c' AS win, measure, dim, value FROM rollup_window($s, $e)
    UNION ALL
    SELECT 'p', measure, dim, value FROM rollup_window($ps, $pe)
    UNION ALL
    SELECT 'c7', measure, dim, value FROM rollup_window($s - INTERVAL 7 DAY, $e - INTERVAL 7 DAY)
    WHERE measure IN ('ps.completed', 'ps.paid_d7')
    UNION ALL
    SELECT 'p7', measure, dim, value FROM rollup_window($ps - INTERVAL 7 DAY, $pe - INTERVAL 7 DAY)
    WHERE measure IN ('ps.completed', 'ps.paid_d7')
    UNION ALL
    SELECT 'c30', measure, dim, value FROM rollup_window($s - INTERVAL 30 DAY, $e - INTERVAL 30 DAY)
    WHERE measure IN ('ps.completed', 'ps.paid_d30')
    UNION ALL
    SELECT 'p30', measure, dim, value FROM rollup_window($ps - INTERVAL 30 DAY, $pe - INTERVAL 30 DAY)
    WHERE measure IN ('ps.completed', 'ps.paid_d30')
)
WHERE measure NOT IN ('ind.gmv', 'ps.state')
GROUP BY ALL
