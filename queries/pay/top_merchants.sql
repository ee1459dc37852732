-- Top $n merchants by GMV over [$s, $e), with growth against the previous window [$ps, $pe), from the
-- per-merchant rollups (whole days and hours: merchant_rollup_window) and the raw payments of the
-- partial hours at the windows' edges (merchant_edge_payments): exact, without scanning the window's
-- payments. Largest GMV first:
--   merchant_id, name, industry
--   transactions   paid payments
--   gmv            their amount, CNY (not net of refunds)
--   gmv_share      gmv / all merchants' gmv in the window (fraction)
--   aov            gmv / transactions, CNY
--   refund_rate    refunded amount / gmv (fraction)
--   gmv_previous   gmv in the previous window, CNY
--   gmv_growth     gmv / gmv_previous - 1 (fraction; NULL without previous gmv)
WITH x AS (
    SELECT 'c' AS win, merchant_id, orders, gmv, refunded FROM merchant_rollup_window($s, $e)
    UNION ALL
    SELECT 'c', merchant_id, 1, amount, CASE WHEN status = 'refunded' THEN amount ELSE 0 END
    FROM merchant_edge_payments($s, $e)
    UNION ALL
    SELECT 'p', merchant_id, 0, gmv, 0 FROM merchant_rollup_window($ps, $pe)
    UNION ALL
    SELECT 'p', merchant_id, 0, amount, 0 FROM merchant_edge_payments($ps, $pe)
),
t AS (
    SELECT merchant_id,
           coalesce(sum(orders) FILTER (WHERE win = 'c'), 0) AS transactions,
           coalesce(sum(gmv) FILTER (WHERE win = 'c'), 0) AS gmv,
           coalesce(sum(refunded) FILTER (WHERE win = 'c'), 0) AS refunded,
           coalesce(sum(gmv) FILTER (WHERE win = 'p'), 0) AS gmv_p
    FROM x GROUP BY merchant_id
),
r AS (SELECT *, sum(gmv) OVER () AS total FROM t)
SELECT r.merchant_id, m.name, m.industry,
       transactions::BIGINT AS transactions,
       gmv::DECIMAL(38, 2) AS gmv,
       gmv::DOUBLE / nullif(total, 0) AS gmv_share,
       (gmv / nullif(transactions, 0))::DECIMAL(38, 2) AS aov,
       refunded::DOUBLE / nullif(gmv, 0) AS refund_rate,
       gmv_p::DECIMAL(38, 2) AS gmv_previous,
       gmv::DOUBLE / nullif(gmv_p, 0) - 1 AS gmv_growth
FROM r LEFT JOIN merchants m USING (merchant_id)
WHERE transactions > 0
ORDER BY gmv DESC, r.merchant_id
LIMIT $n
