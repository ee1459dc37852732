-- GMV trend of merchant $m: paid GMV and orders per bucket of $step seconds from the start of the
-- window [$s, $e) (win = 'c') and of the previous window [$ps, $pe) (win = 'p'), so bucket k of both
-- lines up. Only buckets with payments have a row. From rollup_merchant_touch.
--   win, bucket (0-based), orders, gmv
SELECT win, bucket, count(*)::BIGINT AS orders, sum(amount)::DECIMAL(38, 2) AS gmv
FROM (
    SELECT CASE WHEN ts >= $s THEN 'c' ELSE 'p' END AS win,
           floor((epoch(ts) - epoch(CASE WHEN ts >= $s THEN $s::TIMESTAMPTZ ELSE $ps::TIMESTAMPTZ END))
                 / $step)::BIGINT AS bucket,
           amount
    FROM rollup_merchant_touch
    WHERE merchant_id = $m AND step = 4 AND ts >= $ps AND ts < $e
)
GROUP BY ALL ORDER BY win, bucket
