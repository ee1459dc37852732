-- The payments of every merchant over the window [$s, $e) (win = 'c') and the previous one
-- [$ps, $pe) (win = 'p'), from the per-merchant rollups (merchant_rollup_window: whole days and
-- hours) and the raw payments of the partial hours at the edges (merchant_edge_payments). Fast at
-- 100k merchants; queries.merchant.assemble_list joins the names (merchant/dims) and derives growth,
-- AOV and refund rate; the distinct-customer and membership measures are merchant/list_loyalty.
-- One row per window and merchant with payments in it:
--   win          'c' or 'p'
--   merchant_id
--   orders       paid payments (status success or refunded)
--   gmv_cents       amount of paid payments, in cents of CNY (not net of refunds)
--   refunded_cents  amount of refunded payments, counted at the original payment, in cents
WITH r AS (
    SELECT 'c' AS win, merchant_id, orders, gmv, refunded FROM merchant_rollup_window($s, $e)
    UNION ALL
    SELECT 'p' AS win, merchant_id, orders, gmv, refunded FROM merchant_rollup_window($ps, $pe)
    UNION ALL
    SELECT 'c' AS win, merchant_id, 1, amount, CASE WHEN status = 'refunded' THEN amount ELSE 0 END
    FROM merchant_edge_payments($s, $e)
    UNION ALL
    SELECT 'p' AS win, merchant_id, 1, amount, CASE WHEN status = 'refunded' THEN amount ELSE 0 END
    FROM merchant_edge_payments($ps, $pe)
)
SELECT win, merchant_id, sum(orders)::BIGINT AS orders, (sum(gmv) * 100)::BIGINT AS gmv_cents,
       (sum(refunded) * 100)::BIGINT AS refunded_cents
FROM r GROUP BY win, merchant_id
