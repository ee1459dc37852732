-- Entry mix of merchant $m over [$s, $e): paid payments and GMV by entry (qr, face, mini_program,
-- in_app, channels_live), every entry listed (zeros included), largest GMV first. From
-- rollup_merchant_touch.
--   entry, orders, gmv
WITH e(entry) AS (VALUES ('qr'), ('face'), ('mini_program'), ('in_app'), ('channels_live')),
t AS (
    SELECT detail AS entry, count(*) AS orders, sum(amount) AS gmv FROM rollup_merchant_touch
    WHERE merchant_id = $m AND step = 4 AND ts >= $s AND ts < $e
    GROUP BY detail
)
SELECT entry, coalesce(t.orders, 0)::BIGINT AS orders, coalesce(t.gmv, 0)::DECIMAL(38, 2) AS gmv
FROM (SELECT entry FROM e UNION SELECT entry FROM t) LEFT JOIN t USING (entry)
ORDER BY gmv DESC, entry
