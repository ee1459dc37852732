-- Official Accounts sums per bucket over [$s, $e): the window split into $n equal buckets, from rollups.
-- Up to 24h the buckets are summed from rollup_minute (exact); beyond, from rollup_hour for whole
-- hours (an hour counts in the bucket where it starts) plus rollup_minute for the partial hours at
-- either edge, so the buckets always add up to the window's headline totals.
-- Returns $n rows, oldest first (empty buckets are zeros):
--   i       bucket number 0 .. $n - 1
--   bucket  start of the bucket (TIMESTAMPTZ)
--   reads          article reads
--   shares         reads that were shared
--   follows        new followers
--   unfollows      unfollows
--   articles       articles pushed
--   recipients     followers those articles were pushed to
--   net_followers  follows - unfollows
WITH b AS (
    -- the shared preamble: rollup_buckets (store/migrations/003_bounded_state.sql)
    SELECT * FROM rollup_buckets($s, $e, $n, 'oa.%')
),
g AS (
    SELECT g.i,
           coalesce(sum(value) FILTER (WHERE measure = 'oa.reads'), 0) AS reads,
           coalesce(sum(value) FILTER (WHERE measure = 'oa.shares'), 0) AS shares,
           coalesce(sum(value) FILTER (WHERE measure = 'oa.follows'), 0) AS follows,
           coalesce(sum(value) FILTER (WHERE measure = 'oa.unfollows'), 0) AS unfollows,
           coalesce(sum(value) FILTER (WHERE measure = 'oa.articles'), 0) AS articles,
           coalesce(sum(value) FILTER (WHERE measure = 'oa.recipients'), 0) AS recipients
    FROM range($n) g(i) LEFT JOIN b USING (i) GROUP BY g.i
)
SELECT i, $s + to_microseconds((i * (epoch($e) - epoch($s)) * 1000000 // $n)::BIGINT) AS bucket,
       reads::BIGINT AS reads,
       shares::BIGINT AS shares,
       follows::BIGINT AS follows,
       unfollows::BIGINT AS unfollows,
       articles::BIGINT AS articles,
       recipients::BIGINT AS recipients,
       (follows - unfollows)::BIGINT AS net_followers
FROM g ORDER BY i
