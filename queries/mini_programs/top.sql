-- Top $n Mini Programs over [$s, $e) by GMV, then visits, with growth against [$ps, $pe).
-- Reads raw mp_visits and transactions (a detail table: the overview never runs it). GMV is the
-- owning merchant's payments with entry mini_program (a payment names its merchant, not the Mini
-- Program). Largest first:
--   mp_id, name, category, merchant_id
--   visits           visits in the window
--   orders           paid Mini Program orders of the merchant
--   gmv              their amount, CNY
--   gmv_previous     gmv in the previous window, CNY
--   gmv_growth       gmv / gmv_previous - 1 (fraction; NULL without previous gmv)
--   visits_previous  visits in the previous window
WITH v AS (
    SELECT mp_id,
           count(*) FILTER (WHERE ts >= $s AND ts < $e) AS visits,
           count(*) FILTER (WHERE ts >= $ps AND ts < $pe) AS visits_p
    FROM mp_visits
    WHERE ts >= least($s, $ps) AND ts < greatest($e, $pe)
      AND ((ts >= $s AND ts < $e) OR (ts >= $ps AND ts < $pe))
    GROUP BY mp_id
),
o AS (
    SELECT merchant_id,
           count(*) FILTER (WHERE ts >= $s AND ts < $e) AS orders,
           coalesce(sum(amount) FILTER (WHERE ts >= $s AND ts < $e), 0) AS gmv,
           coalesce(sum(amount) FILTER (WHERE ts >= $ps AND ts < $pe), 0) AS gmv_p
    FROM transactions
    WHERE entry = 'mini_program' AND status <> 'failed'
      AND ts >= least($s, $ps) AND ts < greatest($e, $pe)
      AND ((ts >= $s AND ts < $e) OR (ts >= $ps AND ts < $pe))
    GROUP BY merchant_id
)
SELECT p.mp_id, p.name, p.category, p.merchant_id,
       coalesce(v.visits, 0)::BIGINT AS visits,
       coalesce(o.orders, 0)::BIGINT AS orders,
       coalesce(o.gmv, 0)::DECIMAL(38, 2) AS gmv,
       coalesce(o.gmv_p, 0)::DECIMAL(38, 2) AS gmv_previous,
       o.gmv::DOUBLE / nullif(o.gmv_p, 0) - 1 AS gmv_growth,
       coalesce(v.visits_p, 0)::BIGINT AS visits_previous
FROM mini_programs p
LEFT JOIN v USING (mp_id)
LEFT JOIN o ON o.merchant_id = p.merchant_id
WHERE coalesce(v.visits, 0) > 0 OR coalesce(o.orders, 0) > 0
ORDER BY gmv DESC, visits DESC, p.mp_id
LIMIT $n
