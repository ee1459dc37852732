-- Pay Score sums per bucket over [$s, $e): the window split into $n equal buckets, from rollups.
-- Up to 24h the buckets are summed from rollup_minute (exact); beyond, from rollup_hour for whole
-- hours (an hour counts in the bucket where it starts) plus rollup_minute for the partial hours at
-- either edge, so the buckets always add up to the window's headline totals.
-- Returns $n rows, oldest first (empty buckets are zeros):
--   i       bucket number 0 .. $n - 1
--   bucket  start of the bucket (TIMESTAMPTZ)
--   orders              orders created
--   deposits_waived     deposits waived by them, CNY
--   completed           orders completed
--   paid_d0             of those, paid within 1 day
--   collection_rate_d0  paid_d0 / completed
WITH b AS (
    -- the shared preamble: rollup_buckets (store/migrations/003_bounded_state.sql)
    SELECT * FROM rollup_buckets($s, $e, $n, 'ps.%')
    WHERE measure IN ('ps.orders', 'ps.deposit_waived', 'ps.completed', 'ps.paid_d0')
),
g AS (
    SELECT g.i,
           coalesce(sum(value) FILTER (WHERE measure = 'ps.orders'), 0) AS orders,
           coalesce(sum(value) FILTER (WHERE measure = 'ps.deposit_waived'), 0) AS deposits_waived,
           coalesce(sum(value) FILTER (WHERE measure = 'ps.completed'), 0) AS completed,
           coalesce(sum(value) FILTER (WHERE measure = 'ps.paid_d0'), 0) AS paid_d0
    FROM range($n) g(i) LEFT JOIN b USING (i) GROUP BY g.i
)
SELECT i, $s + to_microseconds((i * (epoch($e) - epoch($s)) * 1000000 // $n)::BIGINT) AS bucket,
       orders::BIGINT AS orders,
       deposits_waived::DECIMAL(38, 2) AS deposits_waived,
       completed::BIGINT AS completed,
       paid_d0::BIGINT AS paid_d0,
       paid_d0::DOUBLE / nullif(completed, 0) AS collection_rate_d0
FROM g ORDER BY i
