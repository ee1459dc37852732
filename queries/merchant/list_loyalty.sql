-- The loyalty measures of every merchant with payments in the window [$s, $e): repurchase (a distinct
-- count of customers, from the raw payments) and member share (whole hours from the per-merchant
-- rollups, the edge minutes from raw payments looked up in memberships). Slower than merchant/list
-- (seconds over 30 days at scale 1), so the Merchants screen fills these columns in afterwards.
-- One row per merchant with paid payments in the window:
--   merchant_id
--   payers          distinct customers with a paid payment (success or refunded) in the window
--   repeat_payers   of them, those with 2+ paid payments in the window
--   repurchase_rate repeat_payers / payers
--   member_gmv      GMV paid by members of the merchant (enrolled at or before paying), CNY
--   member_share    member_gmv / GMV
WITH c AS (
    SELECT merchant_id, user_id, count(*) AS n
    FROM transactions
    WHERE ts >= $s AND ts < $e AND status <> 'failed'
    GROUP BY ALL
),
rep AS (
    SELECT merchant_id, count(*) AS payers, count(*) FILTER (WHERE n >= 2) AS repeat_payers
    FROM c GROUP BY merchant_id
),
mem AS (
    SELECT merchant_id, sum(gmv) AS gmv, sum(member_gmv) AS member_gmv FROM (
        SELECT merchant_id, gmv, member_gmv FROM merchant_rollup_window($s, $e)
        UNION ALL
        SELECT x.merchant_id, x.amount,
               CASE WHEN EXISTS (SELECT 1 FROM memberships m
                                 WHERE m.merchant_id = x.merchant_id AND m.user_id = x.user_id
                                   AND m.enrolled_at <= x.ts) THEN x.amount ELSE 0 END
        FROM merchant_edge_payments($s, $e) x
    ) GROUP BY merchant_id
)
SELECT rep.merchant_id,
       rep.payers::BIGINT AS payers,
       rep.repeat_payers::BIGINT AS repeat_payers,
       rep.repeat_payers::DOUBLE / rep.payers AS repurchase_rate,
       coalesce(mem.member_gmv, 0)::DECIMAL(38, 2) AS member_gmv,
       mem.member_gmv::DOUBLE / nullif(mem.gmv, 0) AS member_share
FROM rep LEFT JOIN mem USING (merchant_id)
ORDER BY rep.merchant_id
