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
WITH src AS (
    SELECT minute AS t, measure, dim, value FROM rollup_minute
    WHERE minute >= $s AND minute < $e AND (measure LIKE 'wc.%')
      AND ($e - $s <= INTERVAL 24 HOUR
           OR minute < date_trunc('hour', $s + INTERVAL 59 MINUTE) OR minute >= date_trunc('hour', $e))
    UNION ALL
    SELECT hour, measure, dim, value FROM rollup_hour
    WHERE $e - $s > INTERVAL 24 HOUR AND (measure LIKE 'wc.%')
      AND hour >= date_trunc('hour', $s + INTERVAL 59 MINUTE) AND hour < date_trunc('hour', $e)
),
b AS (
    SELECT least($n - 1, greatest(0, floor((epoch(t) - epoch($s)) * $n / (epoch($e) - epoch($s)))))::BIGINT AS i,
           measure, dim, value
    FROM src
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
