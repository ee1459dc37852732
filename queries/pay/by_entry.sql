-- Pay mix by entry (qr, face, mini_program, in_app, channels_live) over [$s, $e), with the
-- previous window [$ps, $pe) for growth, from rollups. One row per entry seen in either window,
-- largest GMV first:
--   entry          payment entry
--   transactions   paid payments
--   gmv            their amount, CNY
--   gmv_share      gmv / all entries' gmv (fraction)
--   success_rate   paid / attempts (fraction)
--   refund_rate    refunded amount / gmv (fraction)
--   gmv_previous   gmv in the previous window, CNY
--   gmv_growth     gmv / gmv_previous - 1 (fraction; NULL without previous gmv)
WITH r AS (
    SELECT 'c' AS win, measure, dim, value FROM rollup_window($s, $e) WHERE measure LIKE 'pay.%'
    UNION ALL
    SELECT 'p', measure, dim, value FROM rollup_window($ps, $pe) WHERE measure LIKE 'pay.%'
),
t AS (
    SELECT dim AS entry,
           coalesce(sum(value) FILTER (WHERE win = 'c' AND measure = 'pay.paid'), 0) AS paid,
           coalesce(sum(value) FILTER (WHERE win = 'c' AND measure = 'pay.attempts'), 0) AS attempts,
           coalesce(sum(value) FILTER (WHERE win = 'c' AND measure = 'pay.gmv'), 0) AS gmv,
           coalesce(sum(value) FILTER (WHERE win = 'c' AND measure = 'pay.refunded_amount'), 0) AS refunded,
           coalesce(sum(value) FILTER (WHERE win = 'p' AND measure = 'pay.gmv'), 0) AS gmv_p
    FROM r GROUP BY dim
)
SELECT entry,
       paid::BIGINT AS transactions,
       gmv::DECIMAL(38, 2) AS gmv,
       gmv::DOUBLE / nullif(sum(gmv) OVER (), 0) AS gmv_share,
       paid::DOUBLE / nullif(attempts, 0) AS success_rate,
       refunded::DOUBLE / nullif(gmv, 0) AS refund_rate,
       gmv_p::DECIMAL(38, 2) AS gmv_previous,
       gmv::DOUBLE / nullif(gmv_p, 0) - 1 AS gmv_growth
FROM t
ORDER BY gmv DESC, entry
