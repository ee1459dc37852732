-- Top $n Official Accounts by article reads over [$s, $e), with the previous window [$ps, $pe).
-- Reads the per-entity rollups (entity_window: whole days and hours, raw rows only for the partial
-- edge hours), so its cost does not grow with the window. Most reads first:
--   account_id, name, merchant_id (NULL for media accounts)
--   reads           article reads
--   shares          reads that were shared
--   share_rate      shares / reads (fraction)
--   follows         new followers
--   unfollows       unfollows
--   net_followers   follows - unfollows
--   reads_previous  reads in the previous window
--   reads_growth    reads / reads_previous - 1 (fraction; NULL without previous reads)
WITH x AS (
    SELECT 'c' AS win, * FROM entity_window($s, $e, ['oa'])
    UNION ALL
    SELECT 'p' AS win, * FROM entity_window($ps, $pe, ['oa']) WHERE measure = 'reads'
),
r AS (
    SELECT entity_id AS account_id,
           coalesce(sum(value) FILTER (WHERE win = 'c' AND measure = 'reads'), 0) AS reads,
           coalesce(sum(value) FILTER (WHERE win = 'c' AND measure = 'shares'), 0) AS shares,
           coalesce(sum(value) FILTER (WHERE win = 'c' AND measure = 'follows'), 0) AS follows,
           coalesce(sum(value) FILTER (WHERE win = 'c' AND measure = 'unfollows'), 0) AS unfollows,
           coalesce(sum(value) FILTER (WHERE win = 'p'), 0) AS reads_p
    FROM x GROUP BY entity_id
),
top AS (SELECT * FROM r WHERE reads > 0 ORDER BY reads DESC, account_id LIMIT $n)
SELECT top.account_id, a.name, a.merchant_id,
       reads::BIGINT AS reads,
       shares::BIGINT AS shares,
       shares::DOUBLE / nullif(reads, 0) AS share_rate,
       follows::BIGINT AS follows,
       unfollows::BIGINT AS unfollows,
       (follows - unfollows)::BIGINT AS net_followers,
       reads_p::BIGINT AS reads_previous,
       reads::DOUBLE / nullif(reads_p, 0) - 1 AS reads_growth
FROM top
LEFT JOIN official_accounts a USING (account_id)
ORDER BY reads DESC, top.account_id
