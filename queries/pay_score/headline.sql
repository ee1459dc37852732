-- Pay Score headline measures over [$s, $e) and the previous window [$ps, $pe), from rollups.
-- Returns rows win = 'c' (current) and 'p' (previous), always both:
--   orders              Pay Score orders created in the window
--   deposits_waived     deposits waived by those orders, CNY
--   completed           orders completed (state done) in the window
--   collection_rate_d0  of the orders completed in the window, the share paid within 1 day of completion
--   collection_rate_d7  of the orders completed in the window shifted back 7 days (a cohort old
--                       enough to be mature), the share paid within 7 days of completion
--   collection_rate_d30  the same for 30 days, over the window shifted back 30 days
--   bad_debt_rate       of the orders completed in the window shifted back 30 days, the share still
--                       unpaid 30 days after completion (1 - collection_rate_d30)
-- Rates are fractions, NULL when their cohort has no completed orders. Active users (distinct users
-- with an order) come from users/active.
WITH r AS (
    SELECT 'c' AS win, 0 AS lag, measure, value FROM rollup_window($s, $e)
    WHERE measure IN ('ps.orders', 'ps.deposit_waived', 'ps.completed', 'ps.paid_d0')
    UNION ALL
    SELECT 'p', 0, measure, value FROM rollup_window($ps, $pe)
    WHERE measure IN ('ps.orders', 'ps.deposit_waived', 'ps.completed', 'ps.paid_d0')
    UNION ALL
    SELECT 'c', 7, measure, value FROM rollup_window($s - INTERVAL 7 DAY, $e - INTERVAL 7 DAY)
    WHERE measure IN ('ps.completed', 'ps.paid_d7')
    UNION ALL
    SELECT 'p', 7, measure, value FROM rollup_window($ps - INTERVAL 7 DAY, $pe - INTERVAL 7 DAY)
    WHERE measure IN ('ps.completed', 'ps.paid_d7')
    UNION ALL
    SELECT 'c', 30, measure, value FROM rollup_window($s - INTERVAL 30 DAY, $e - INTERVAL 30 DAY)
    WHERE measure IN ('ps.completed', 'ps.paid_d30')
    UNION ALL
    SELECT 'p', 30, measure, value FROM rollup_window($ps - INTERVAL 30 DAY, $pe - INTERVAL 30 DAY)
    WHERE measure IN ('ps.completed', 'ps.paid_d30')
),
w AS (SELECT * FROM (VALUES ('c'), ('p')) v(win)),
t AS (
    SELECT w.win,
           coalesce(sum(value) FILTER (WHERE lag = 0 AND measure = 'ps.orders'), 0) AS orders,
           coalesce(sum(value) FILTER (WHERE lag = 0 AND measure = 'ps.deposit_waived'), 0) AS waived,
           coalesce(sum(value) FILTER (WHERE lag = 0 AND measure = 'ps.completed'), 0) AS completed,
           sum(value) FILTER (WHERE lag = 0 AND measure = 'ps.paid_d0') AS paid_d0,
           sum(value) FILTER (WHERE lag = 7 AND measure = 'ps.completed') AS completed_7,
           sum(value) FILTER (WHERE lag = 7 AND measure = 'ps.paid_d7') AS paid_d7,
           sum(value) FILTER (WHERE lag = 30 AND measure = 'ps.completed') AS completed_30,
           sum(value) FILTER (WHERE lag = 30 AND measure = 'ps.paid_d30') AS paid_d30
    FROM w LEFT JOIN r USING (win) GROUP BY w.win
)
SELECT win,
       orders::BIGINT AS orders,
       waived::DECIMAL(38, 2) AS deposits_waived,
       completed::BIGINT AS completed,
       coalesce(paid_d0, 0)::DOUBLE / nullif(completed, 0) AS collection_rate_d0,
       coalesce(paid_d7, 0)::DOUBLE / nullif(completed_7, 0) AS collection_rate_d7,
       coalesce(paid_d30, 0)::DOUBLE / nullif(completed_30, 0) AS collection_rate_d30,
       (completed_30 - coalesce(paid_d30, 0))::DOUBLE / nullif(completed_30, 0) AS bad_debt_rate
FROM t
ORDER BY win
