-- Pay Score by scenario (power_bank, ride_hailing, bike_sharing, lodging, ...) over [$s, $e), from
-- rollups; collection and bad debt use the cohorts of the headline (orders completed in the window,
-- and in the window shifted back 7 and 30 days so they are mature). One row per scenario, most
-- orders first:
--   scenario             Pay Score scenario
--   orders               orders created in the window
--   orders_previous      orders created in the previous window [$ps, $pe)
--   deposits_waived      deposits waived by the orders created, CNY
--   completed            orders completed in the window
--   collection_rate_d0   share of those paid within 1 day
--   collection_rate_d7   share of the 7-day-earlier cohort paid within 7 days
--   collection_rate_d30  share of the 30-day-earlier cohort paid within 30 days
--   bad_debt_rate        share of the 30-day-earlier cohort still unpaid after 30 days
WITH r AS (
    SELECT 'c' AS win, 0 AS lag, measure, dim, value FROM rollup_window($s, $e)
    WHERE measure IN ('ps.orders', 'ps.deposit_waived', 'ps.completed', 'ps.paid_d0')
    UNION ALL
    SELECT 'p', 0, measure, dim, value FROM rollup_window($ps, $pe) WHERE measure = 'ps.orders'
    UNION ALL
    SELECT 'c', 7, measure, dim, value FROM rollup_window($s - INTERVAL 7 DAY, $e - INTERVAL 7 DAY)
    WHERE measure IN ('ps.completed', 'ps.paid_d7')
    UNION ALL
    SELECT 'c', 30, measure, dim, value FROM rollup_window($s - INTERVAL 30 DAY, $e - INTERVAL 30 DAY)
    WHERE measure IN ('ps.completed', 'ps.paid_d30')
),
t AS (
    SELECT dim AS scenario,
           coalesce(sum(value) FILTER (WHERE win = 'c' AND lag = 0 AND measure = 'ps.orders'), 0) AS orders,
           coalesce(sum(value) FILTER (WHERE win = 'p' AND measure = 'ps.orders'), 0) AS orders_p,
           coalesce(sum(value) FILTER (WHERE lag = 0 AND measure = 'ps.deposit_waived'), 0) AS waived,
           coalesce(sum(value) FILTER (WHERE lag = 0 AND measure = 'ps.completed'), 0) AS completed,
           coalesce(sum(value) FILTER (WHERE lag = 0 AND measure = 'ps.paid_d0'), 0) AS paid_d0,
           sum(value) FILTER (WHERE lag = 7 AND measure = 'ps.completed') AS completed_7,
           coalesce(sum(value) FILTER (WHERE lag = 7 AND measure = 'ps.paid_d7'), 0) AS paid_d7,
           sum(value) FILTER (WHERE lag = 30 AND measure = 'ps.completed') AS completed_30,
           coalesce(sum(value) FILTER (WHERE lag = 30 AND measure = 'ps.paid_d30'), 0) AS paid_d30
    FROM r GROUP BY dim
)
SELECT scenario,
       orders::BIGINT AS orders,
       orders_p::BIGINT AS orders_previous,
       waived::DECIMAL(38, 2) AS deposits_waived,
       completed::BIGINT AS completed,
       paid_d0::DOUBLE / nullif(completed, 0) AS collection_rate_d0,
       paid_d7::DOUBLE / nullif(completed_7, 0) AS collection_rate_d7,
       paid_d30::DOUBLE / nullif(completed_30, 0) AS collection_rate_d30,
       (completed_30 - paid_d30)::DOUBLE / nullif(completed_30, 0) AS bad_debt_rate
FROM t
ORDER BY orders DESC, scenario
