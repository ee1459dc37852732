-- Customer-group size histogram at the window end $e against the 500-member cap: customer groups
-- (groups.kind = 'customer') created before $e, by their current member count, in bins of 50 with
-- the full groups (500) on their own. Always 11 rows, smallest bin first:
--   lo, hi     the bin's member counts, inclusive (0-49, 50-99, ..., 450-499, 500-500)
--   groups     customer groups in the bin
--   members    their members
--   at_cap     true for the bin of full groups (500)
--   share      groups / all customer groups (fraction)
WITH bins AS (
    SELECT b, b * 50 AS lo, CASE WHEN b = 10 THEN 500 ELSE b * 50 + 49 END AS hi FROM range(11) r(b)
),
g AS (
    SELECT least(10, member_count // 50) AS b, count(*) AS groups, sum(member_count) AS members
    FROM groups WHERE kind = 'customer' AND created_at < $e
    GROUP BY ALL
)
SELECT lo::INTEGER AS lo, hi::INTEGER AS hi,
       coalesce(groups, 0)::BIGINT AS groups,
       coalesce(members, 0)::BIGINT AS members,
       b = 10 AS at_cap,
       coalesce(groups, 0)::DOUBLE / nullif(sum(groups) OVER (), 0) AS share
FROM bins LEFT JOIN g USING (b)
ORDER BY lo
