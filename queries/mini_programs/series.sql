-- Mini Programs sums per bucket over [$s, $e): the window split into $n equal buckets, from rollups.
-- Up to 24h the buckets are summed from rollup_minute (exact); beyond, from rollup_hour for whole
-- hours (an hour counts in the bucket where it starts) plus rollup_minute for the partial hours at
-- either edge, so the buckets always add up to the window's headline totals.
-- Returns $n rows, oldest first (empty buckets are zeros):
--   i       bucket number 0 .. $n - 1
--   bucket  start of the bucket (TIMESTAMPTZ)
--   visits    Mini Program visits
--   orders    paid Mini Program orders
--   gmv       their amount, CNY
--   refunded  amount later refunded, CNY
--   aov       gmv / orders, CNY
WITH b AS (
    -- the shared preamble: rollup_buckets (store/migrations/003_bounded_state.sql)
    SELECT * FROM rollup_buckets($s, $e, $n, 'mp.%')
),
g AS (
    SELECT g.i,
           coalesce(sum(value) FILTER (WHERE measure = 'mp.visits'), 0) AS visits,
           coalesce(sum(value) FILTER (WHERE measure = 'mp.orders'), 0) AS orders,
           coalesce(sum(value) FILTER (WHERE measure = 'mp.gmv'), 0) AS gmv,
           coalesce(sum(value) FILTER (WHERE measure = 'mp.refunded_amount'), 0) AS refunded
    FROM range($n) g(i) LEFT JOIN b USING (i) GROUP BY g.i
)
SELECT i, $s + to_microseconds((i * (epoch($e) - epoch($s)) * 1000000 // $n)::BIGINT) AS bucket,
       visits::BIGINT AS visits,
       orders::BIGINT AS orders,
       gmv::DECIMAL(38, 2) AS gmv,
       refunded::DECIMAL(38, 2) AS refunded,
       (gmv / nullif(orders, 0))::DECIMAL(38, 2) AS aov
FROM g ORDER BY i
