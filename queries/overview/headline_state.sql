-- The headline measures that are not rollup sums, for the current window [$s, $e) and the previous
-- one [$ps, $pe), in one row (what kpis() runs besides overview/headline_sums):
--   enterprises_c, enterprises_p          WeCom enterprises created before the window's end
--   customer_groups_c, customer_groups_p  customer groups created before the window's end
--   group_members_c, group_members_p      their members (current member counts)
--   active_groups_c, active_groups_p      customer groups that received a mass message in the window
--   live_sessions_c, live_sessions_p      live sessions overlapping the window
--   peak_viewers_c, peak_viewers_p        the highest peak concurrent viewers among them (0 if none)
WITH ent AS (
    SELECT count(*) FILTER (WHERE created_at < $e) AS c, count(*) FILTER (WHERE created_at < $pe) AS p
    FROM wecom_enterprises
),
grp AS (
    SELECT count(*) FILTER (WHERE created_at < $e) AS c, count(*) FILTER (WHERE created_at < $pe) AS p,
           coalesce(sum(member_count) FILTER (WHERE created_at < $e), 0) AS mc,
           coalesce(sum(member_count) FILTER (WHERE created_at < $pe), 0) AS mp
    FROM groups WHERE kind = 'customer'
),
act AS (
    SELECT count(DISTINCT m.group_id) FILTER (WHERE m.ts >= $s AND m.ts < $e) AS c,
           count(DISTINCT m.group_id) FILTER (WHERE m.ts >= $ps AND m.ts < $pe) AS p
    FROM wecom_messages m SEMI JOIN groups g ON g.group_id = m.group_id AND g.kind = 'customer'
    WHERE m.ts >= least($ps, $s) AND m.ts < greatest($pe, $e)
      AND ((m.ts >= $s AND m.ts < $e) OR (m.ts >= $ps AND m.ts < $pe))
),
l AS (
    SELECT count(*) FILTER (WHERE started_at < $e AND (ended_at IS NULL OR ended_at > $s)) AS c,
           count(*) FILTER (WHERE started_at < $pe AND (ended_at IS NULL OR ended_at > $ps)) AS p,
           max(peak_viewers) FILTER (WHERE started_at < $e AND (ended_at IS NULL OR ended_at > $s)) AS pk_c,
           max(peak_viewers) FILTER (WHERE started_at < $pe AND (ended_at IS NULL OR ended_at > $ps)) AS pk_p
    FROM live_sessions
    WHERE started_at < greatest($e, $pe) AND (ended_at IS NULL OR ended_at > least($s, $ps))
)
SELECT ent.c::BIGINT AS enterprises_c, ent.p::BIGINT AS enterprises_p,
       grp.c::BIGINT AS customer_groups_c, grp.p::BIGINT AS customer_groups_p,
       grp.mc::BIGINT AS group_members_c, grp.mp::BIGINT AS group_members_p,
       act.c::BIGINT AS active_groups_c, act.p::BIGINT AS active_groups_p,
       l.c::BIGINT AS live_sessions_c, l.p::BIGINT AS live_sessions_p,
       coalesce(l.pk_c, 0)::BIGINT AS peak_viewers_c, coalesce(l.pk_p, 0)::BIGINT AS peak_viewers_p
FROM ent, grp, act, l
