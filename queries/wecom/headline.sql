-- WeCom headline measures over [$s, $e) and the previous window [$ps, $pe).
-- Sums come from rollups; counts "at the window end" from the small dimension tables; active groups
-- from the mass messages of the two windows. Returns rows win = 'c' (current) and 'p' (previous):
--   enterprises         WeCom enterprises created before the window end
--   contacts_added      customer contacts added by staff
--   contacts_removed    customer contacts removed
--   net_contacts        added - removed
--   customer_groups     customer groups (groups.kind = 'customer') created before the window end
--   group_members       members of those groups (current member counts: a snapshot)
--   group_joins         joins of customer groups
--   group_leaves        leaves of customer groups
--   active_groups       customer groups that received a message in the window
--   active_group_share  active_groups / customer_groups (fraction)
--   messages            mass messages sent
--   targeted, delivered  recipients targeted and reached by them
--   message_reach       delivered / targeted (fraction; NULL without messages)
WITH r AS (
    SELECT 'c' AS win, measure, value FROM rollup_window($s, $e) WHERE measure LIKE 'wc.%'
    UNION ALL
    SELECT 'p', measure, value FROM rollup_window($ps, $pe) WHERE measure LIKE 'wc.%'
),
w AS (SELECT * FROM (VALUES ('c'), ('p')) v(win)),
t AS (
    SELECT w.win,
           coalesce(sum(value) FILTER (WHERE measure = 'wc.contacts_added'), 0) AS added,
           coalesce(sum(value) FILTER (WHERE measure = 'wc.contacts_removed'), 0) AS removed,
           coalesce(sum(value) FILTER (WHERE measure = 'wc.group_joins'), 0) AS joins,
           coalesce(sum(value) FILTER (WHERE measure = 'wc.group_leaves'), 0) AS leaves,
           coalesce(sum(value) FILTER (WHERE measure = 'wc.messages'), 0) AS messages,
           coalesce(sum(value) FILTER (WHERE measure = 'wc.targeted'), 0) AS targeted,
           coalesce(sum(value) FILTER (WHERE measure = 'wc.delivered'), 0) AS delivered
    FROM w LEFT JOIN r USING (win) GROUP BY w.win
),
ent AS (
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
    SELECT count(DISTINCT m.group_id) FILTER (WHERE m.ts >= $s) AS c,
           count(DISTINCT m.group_id) FILTER (WHERE m.ts < $pe) AS p
    FROM wecom_messages m SEMI JOIN groups g ON g.group_id = m.group_id AND g.kind = 'customer'
    WHERE m.ts >= least($ps, $s) AND m.ts < greatest($pe, $e)
      AND ((m.ts >= $s AND m.ts < $e) OR (m.ts >= $ps AND m.ts < $pe))
)
SELECT t.win,
       CASE t.win WHEN 'c' THEN ent.c ELSE ent.p END::BIGINT AS enterprises,
       added::BIGINT AS contacts_added,
       removed::BIGINT AS contacts_removed,
       (added - removed)::BIGINT AS net_contacts,
       CASE t.win WHEN 'c' THEN grp.c ELSE grp.p END::BIGINT AS customer_groups,
       CASE t.win WHEN 'c' THEN grp.mc ELSE grp.mp END::BIGINT AS group_members,
       joins::BIGINT AS group_joins,
       leaves::BIGINT AS group_leaves,
       CASE t.win WHEN 'c' THEN act.c ELSE act.p END::BIGINT AS active_groups,
       CASE t.win WHEN 'c' THEN act.c ELSE act.p END::DOUBLE
           / nullif(CASE t.win WHEN 'c' THEN grp.c ELSE grp.p END, 0) AS active_group_share,
       messages::BIGINT AS messages,
       targeted::BIGINT AS targeted,
       delivered::BIGINT AS delivered,
       delivered::DOUBLE / nullif(targeted, 0) AS message_reach
FROM t, ent, grp, act
ORDER BY t.win
