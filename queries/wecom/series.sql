-- WeCom sums per bucket over [$s, $e): the window split into $n equal buckets, from rollups.
-- Up to 24h the buckets are summed from rollup_minute (exact); beyond, from rollup_hour for whole
-- hours (an hour counts in the bucket where it starts) plus rollup_minute for the partial hours at
-- either edge, so the buckets always add up to the window's headline totals.
-- Returns $n rows, oldest first (empty buckets are zeros):
--   i       bucket number 0 .. $n - 1
--   bucket  start of the bucket (TIMESTAMPTZ)
--   contacts_added    customer contacts added
--   contacts_removed  customer contacts removed
--   group_joins       customer group joins
--   group_leaves      customer group leaves
--   messages          mass messages
--   targeted          recipients targeted
--   delivered         recipients reached
--   net_contacts      added - removed
--   message_reach     delivered / targeted
WITH b AS (
    -- the shared preamble: rollup_buckets (store/migrations/003_bounded_state.sql)
    SELECT * FROM rollup_buckets($s, $e, $n, 'wc.%')
),
g AS (
    SELECT g.i,
           coalesce(sum(value) FILTER (WHERE measure = 'wc.contacts_added'), 0) AS contacts_added,
           coalesce(sum(value) FILTER (WHERE measure = 'wc.contacts_removed'), 0) AS contacts_removed,
           coalesce(sum(value) FILTER (WHERE measure = 'wc.group_joins'), 0) AS group_joins,
           coalesce(sum(value) FILTER (WHERE measure = 'wc.group_leaves'), 0) AS group_leaves,
           coalesce(sum(value) FILTER (WHERE measure = 'wc.messages'), 0) AS messages,
           coalesce(sum(value) FILTER (WHERE measure = 'wc.targeted'), 0) AS targeted,
           coalesce(sum(value) FILTER (WHERE measure = 'wc.delivered'), 0) AS delivered
    FROM range($n) g(i) LEFT JOIN b USING (i) GROUP BY g.i
)
SELECT i, $s + to_microseconds((i * (epoch($e) - epoch($s)) * 1000000 // $n)::BIGINT) AS bucket,
       contacts_added::BIGINT AS contacts_added,
       contacts_removed::BIGINT AS contacts_removed,
       group_joins::BIGINT AS group_joins,
       group_leaves::BIGINT AS group_leaves,
       messages::BIGINT AS messages,
       targeted::BIGINT AS targeted,
       delivered::BIGINT AS delivered,
       (contacts_added - contacts_removed)::BIGINT AS net_contacts,
       delivered::DOUBLE / nullif(targeted, 0) AS message_reach
FROM g ORDER BY i
