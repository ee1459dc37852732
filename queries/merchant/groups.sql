-- The WeCom customer groups of merchant $m (groups.kind = 'customer'), one row each, largest first:
--   group_id, name, member_count (capped at 500)
--   active   the group received a WeCom message in [$s, $e)
--   joins, leaves   members who joined and left in [$s, $e)
WITH g AS (
    SELECT group_id, name, member_count FROM groups WHERE kind = 'customer' AND merchant_id = $m
),
act AS (
    SELECT DISTINCT group_id FROM wecom_messages
    WHERE ts >= $s AND ts < $e AND group_id IN (SELECT group_id FROM g)
),
mv AS (
    SELECT group_id, count(*) FILTER (WHERE action = 'join') AS joins,
           count(*) FILTER (WHERE action = 'leave') AS leaves
    FROM group_members
    WHERE ts >= $s AND ts < $e AND group_id IN (SELECT group_id FROM g)
    GROUP BY group_id
)
SELECT g.group_id, g.name, g.member_count,
       act.group_id IS NOT NULL AS active,
       coalesce(mv.joins, 0)::BIGINT AS joins, coalesce(mv.leaves, 0)::BIGINT AS leaves
FROM g LEFT JOIN act USING (group_id) LEFT JOIN mv USING (group_id)
ORDER BY g.member_count DESC, g.group_id
