-- Pay sums per bucket over [$s, $e): the window split into $n equal buckets, from rollups.
-- Up to 24h the buckets are summed from rollup_minute (exact); beyond, from rollup_hour for whole
-- hours (an hour counts in the bucket where it starts) plus rollup_minute for the partial hours at
-- either edge, so the buckets always add up to the window's headline totals.
-- Returns $n rows, oldest first (empty buckets are zeros):
--   i       bucket number 0 .. $n - 1
--   bucket  start of the bucket (TIMESTAMPTZ)
--   attempts      payment attempts
--   transactions  paid payments
--   gmv           their amount, CNY
--   refunded      amount later refunded, CNY
--   success_rate  transactions / attempts
--   tpm           transactions per minute
WITH b AS (
    -- the shared preamble: rollup_buckets (store/migrations/003_bounded_state.sql)
    SELECT * FROM rollup_buckets($s, $e, $n, 'pay.%')
),
g AS (
    SELECT g.i,
           coalesce(sum(value) FILTER (WHERE measure = 'pay.attempts'), 0) AS attempts,
           coalesce(sum(value) FILTER (WHERE measure = 'pay.paid'), 0) AS transactions,
           coalesce(sum(value) FILTER (WHERE measure = 'pay.gmv'), 0) AS gmv,
           coalesce(sum(value) FILTER (WHERE measure = 'pay.refunded_amount'), 0) AS refunded
    FROM range($n) g(i) LEFT JOIN b USING (i) GROUP BY g.i
)
SELECT i, $s + to_microseconds((i * (epoch($e) - epoch($s)) * 1000000 // $n)::BIGINT) AS bucket,
       attempts::BIGINT AS attempts,
       transactions::BIGINT AS transactions,
       gmv::DECIMAL(38, 2) AS gmv,
       refunded::DECIMAL(38, 2) AS refunded,
       transactions::DOUBLE / nullif(attempts, 0) AS success_rate,
       transactions::DOUBLE * $n * 60 / (epoch($e) - epoch($s)) AS tpm
FROM g ORDER BY i
