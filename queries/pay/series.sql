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
WITH src AS (
    SELECT minute AS t, measure, dim, value FROM rollup_minute
    WHERE minute >= $s AND minute < $e AND (measure LIKE 'pay.%')
      AND ($e - $s <= INTERVAL 24 HOUR
           OR minute < date_trunc('hour', $s + INTERVAL 59 MINUTE) OR minute >= date_trunc('hour', $e))
    UNION ALL
    SELECT hour, measure, dim, value FROM rollup_hour
    WHERE $e - $s > INTERVAL 24 HOUR AND (measure LIKE 'pay.%')
      AND hour >= date_trunc('hour', $s + INTERVAL 59 MINUTE) AND hour < date_trunc('hour', $e)
),
b AS (
    SELECT least($n - 1, greatest(0, floor((epoch(t) - epoch($s)) * $n / (epoch($e) - epoch($s)))))::BIGINT AS i,
           measure, dim, value
    FROM src
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
