-- Pay headline measures over the window [$s, $e) and the previous one [$ps, $pe), from the rollups.
-- Returns two rows, win = 'c' (current) and 'p' (previous), always both:
--   transactions  paid payments (status success or refunded)
--   attempts      every payment attempt, failed included
--   tpm           transactions per minute of the window
--   gmv           amount of paid payments, CNY, not net of refunds
--   success_rate  transactions / attempts
--   refund_rate   refunded amount / gmv (a refund counts in the window of the original payment)
--   aov           gmv / transactions, CNY
WITH r AS (
    SELECT 'c' AS win, measure, value FROM rollup_window($s, $e) WHERE measure LIKE 'pay.%'
    UNION ALL
    SELECT 'p', measure, value FROM rollup_window($ps, $pe) WHERE measure LIKE 'pay.%'
),
w AS (SELECT * FROM (VALUES ('c'), ('p')) v(win)),
t AS (
    SELECT w.win,
           sum(value) FILTER (WHERE measure = 'pay.attempts') AS attempts,
           sum(value) FILTER (WHERE measure = 'pay.paid') AS paid,
           sum(value) FILTER (WHERE measure = 'pay.gmv') AS gmv,
           sum(value) FILTER (WHERE measure = 'pay.refunded_amount') AS refunded
    FROM w LEFT JOIN r USING (win) GROUP BY w.win
)
SELECT win,
       coalesce(paid, 0)::BIGINT AS transactions,
       coalesce(attempts, 0)::BIGINT AS attempts,
       coalesce(paid, 0)::DOUBLE / ((epoch($e) - epoch($s)) / 60) AS tpm,
       coalesce(gmv, 0)::DECIMAL(38, 2) AS gmv,
       paid::DOUBLE / nullif(attempts, 0) AS success_rate,
       coalesce(refunded, 0)::DOUBLE / nullif(gmv, 0) AS refund_rate,
       (gmv / nullif(paid, 0))::DECIMAL(38, 2) AS aov
FROM t
ORDER BY win
