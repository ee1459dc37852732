-- Top $n WeCom enterprises by customer contacts added over [$s, $e), with the previous window
-- [$ps, $pe). Reads the per-entity rollups (entity_window: whole days and hours, raw rows only for
-- the partial edge hours). Most added first:
--   corp_id, name, merchant_id, staff
--   contacts_added     customer contacts added by its staff
--   contacts_removed   customer contacts removed
--   net_contacts       added - removed
--   customer_groups    its merchant's customer groups at the window end
--   messages           mass messages sent
--   message_reach      delivered / targeted (fraction)
--   added_previous     contacts added in the previous window
--   added_growth       contacts_added / added_previous - 1 (fraction)
WITH x AS (
    SELECT 'c' AS win, * FROM entity_window($s, $e, ['corp'])
    UNION ALL
    SELECT 'p' AS win, * FROM entity_window($ps, $pe, ['corp']) WHERE measure = 'added'
),
c AS (
    SELECT entity_id AS corp_id,
           coalesce(sum(value) FILTER (WHERE win = 'c' AND measure = 'added'), 0) AS added,
           coalesce(sum(value) FILTER (WHERE win = 'c' AND measure = 'removed'), 0) AS removed,
           coalesce(sum(value) FILTER (WHERE win = 'c' AND measure = 'messages'), 0) AS messages,
           sum(value) FILTER (WHERE win = 'c' AND measure = 'targeted') AS targeted,
           sum(value) FILTER (WHERE win = 'c' AND measure = 'delivered') AS delivered,
           coalesce(sum(value) FILTER (WHERE win = 'p'), 0) AS added_p
    FROM x GROUP BY entity_id
),
top AS (SELECT * FROM c WHERE added > 0 OR removed > 0 ORDER BY added DESC, corp_id LIMIT $n),
g AS (
    SELECT merchant_id, count(*) AS customer_groups
    FROM groups WHERE kind = 'customer' AND created_at < $e AND merchant_id IS NOT NULL
    GROUP BY merchant_id
)
SELECT top.corp_id, w.name, w.merchant_id, w.staff,
       added::BIGINT AS contacts_added,
       removed::BIGINT AS contacts_removed,
       (added - removed)::BIGINT AS net_contacts,
       coalesce(g.customer_groups, 0)::BIGINT AS customer_groups,
       messages::BIGINT AS messages,
       delivered::DOUBLE / nullif(targeted, 0) AS message_reach,
       added_p::BIGINT AS added_previous,
       added::DOUBLE / nullif(added_p, 0) - 1 AS added_growth
FROM top
LEFT JOIN wecom_enterprises w USING (corp_id)
LEFT JOIN g ON g.merchant_id = w.merchant_id
ORDER BY added DESC, top.corp_id
