-- Top $n merchants by GMV over [$s, $e), with growth against the previous window [$ps, $pe).
-- Reads raw transactions (a detail table: the overview never runs it). Largest GMV first:
--   merchant_id, name, industry
--   transactions   paid payments
--   gmv            their amount, CNY (not net of refunds)
--   gmv_share      gmv / all merchants' gmv in the window (fraction)
--   aov            gmv / transactions, CNY
--   refund_rate    refunded amount / gmv (fraction)
--   gmv_previous   gmv in the previous window, CNY
--   gmv_growth     gmv / gmv_previous - 1 (fraction; NULL without previous gmv)
WITH t AS (
    SELECT merchant_id,
           count(*) FILTER (WHERE ts >= $s AND ts < $e) AS transactions,
           coalesce(sum(amount) FILTER (WHERE ts >= $s AND ts < $e), 0) AS gmv,
           coalesce(sum(amount) FILTER (WHERE ts >= $s AND ts < $e AND status = 'refunded'), 0) AS refunded,
           coalesce(sum(amount) FILTER (WHERE ts >= $ps AND ts < $pe), 0) AS gmv_p
    FROM transactions
    WHERE status <> 'failed' AND ts >= least($s, $ps) AND ts < greatest($e, $pe)
      AND ((ts >= $s AND ts < $e) OR (ts >= $ps AND ts < $pe))
    GROUP BY merchant_id
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
