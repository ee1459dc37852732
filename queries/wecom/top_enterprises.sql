-- Top $n WeCom enterprises by customer contacts added over [$s, $e), with the previous window
-- [$ps, $pe). Reads raw wecom_contacts and wecom_messages (a detail table). Most added first:
--   corp_id, name, merchant_id, staff
--   contacts_added     customer contacts added by its staff
--   contacts_removed   customer contacts removed
--   net_contacts       added - removed
--   customer_groups    its merchant's customer groups at the window end
--   messages           mass messages sent
--   message_reach      delivered / targeted (fraction)
--   added_previous     contacts added in the previous window
--   added_growth       contacts_added / added_previous - 1 (fraction)
WITH c AS (
    SELECT corp_id,
           count(*) FILTER (WHERE ts >= $s AND ts < $e AND action = 'add') AS added,
           count(*) FILTER (WHERE ts >= $s AND ts < $e AND action = 'remove') AS removed,
           count(*) FILTER (WHERE ts >= $ps AND ts < $pe AND action = 'add') AS added_p
    FROM wecom_contacts
    WHERE ts >= least($s, $ps) AND ts < greatest($e, $pe)
      AND ((ts >= $s AND ts < $e) OR (ts >= $ps AND ts < $pe))
    GROUP BY corp_id
),
top AS (SELECT * FROM c WHERE added > 0 OR removed > 0 ORDER BY added DESC, corp_id LIMIT $n),
m AS (
    SELECT corp_id, count(*) AS messages, sum(targeted) AS targeted, sum(delivered) AS delivered
    FROM wecom_messages
    WHERE ts >= $s AND ts < $e AND corp_id IN (SELECT corp_id FROM top)
    GROUP BY corp_id
),
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
       coalesce(m.messages, 0)::BIGINT AS messages,
       m.delivered::DOUBLE / nullif(m.targeted, 0) AS message_reach,
       added_p::BIGINT AS added_previous,
       added::DOUBLE / nullif(added_p, 0) - 1 AS added_growth
FROM top
LEFT JOIN wecom_enterprises w USING (corp_id)
LEFT JOIN m USING (corp_id)
LEFT JOIN g ON g.merchant_id = w.merchant_id
ORDER BY added DESC, top.corp_id
