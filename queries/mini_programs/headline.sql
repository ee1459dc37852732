-- Mini Programs headline sums over [$s, $e) and the previous window [$ps, $pe), from rollups.
-- Returns rows win = 'c' (current) and 'p' (previous), always both:
--   visits       Mini Program visits (sessions)
--   orders       paid Mini Program orders (payments with entry mini_program, success or refunded)
--   gmv          their amount, CNY, not net of refunds (as We分析 reports it)
--   aov          gmv / orders, CNY (NULL without orders)
--   refunded     amount of those orders later refunded, CNY
--   refund_rate  refunded / gmv (fraction; a refund counts in the window of its payment)
-- MP users and payers (distinct users) come from users/active; ARPPU = gmv / payers.
WITH r AS (
    SELECT 'c' AS win, measure, value FROM rollup_window($s, $e) WHERE measure LIKE 'mp.%'
    UNION ALL
    SELECT 'p', measure, value FROM rollup_window($ps, $pe) WHERE measure LIKE 'mp.%'
),
w AS (SELECT * FROM (VALUES ('c'), ('p')) v(win)),
t AS (
    SELECT w.win,
           coalesce(sum(value) FILTER (WHERE measure = 'mp.visits'), 0) AS visits,
           coalesce(sum(value) FILTER (WHERE measure = 'mp.orders'), 0) AS orders,
           coalesce(sum(value) FILTER (WHERE measure = 'mp.gmv'), 0) AS gmv,
           coalesce(sum(value) FILTER (WHERE measure = 'mp.refunded_amount'), 0) AS refunded
    FROM w LEFT JOIN r USING (win) GROUP BY w.win
)
SELECT win,
       visits::BIGINT AS visits,
       orders::BIGINT AS orders,
       gmv::DECIMAL(38, 2) AS gmv,
       (gmv / nullif(orders, 0))::DECIMAL(38, 2) AS aov,
       refunded::DECIMAL(38, 2) AS refunded,
       refunded::DOUBLE / nullif(gmv, 0) AS refund_rate
FROM t
ORDER BY win
