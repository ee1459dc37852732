-- Pay Score orders created in [$s, $e) by their state now (created, doing, done, revoked, expired),
-- with the previous window [$ps, $pe), from rollups. One row per state, most orders first:
--   state            order state
--   orders           orders created in the window that are in this state
--   share            orders / all orders of the window (fraction)
--   orders_previous  the same for the previous window
WITH r AS (
    SELECT 'c' AS win, dim, value FROM rollup_window($s, $e) WHERE measure = 'ps.state'
    UNION ALL
    SELECT 'p', dim, value FROM rollup_window($ps, $pe) WHERE measure = 'ps.state'
),
t AS (
    SELECT dim AS state,
           coalesce(sum(value) FILTER (WHERE win = 'c'), 0) AS orders,
           coalesce(sum(value) FILTER (WHERE win = 'p'), 0) AS orders_p
    FROM r GROUP BY dim
)
SELECT state,
       orders::BIGINT AS orders,
       orders::DOUBLE / nullif(sum(orders) OVER (), 0) AS share,
       orders_p::BIGINT AS orders_previous
FROM t
ORDER BY orders DESC, state
