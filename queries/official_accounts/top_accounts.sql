-- Top $n Official Accounts by article reads over [$s, $e), with the previous window [$ps, $pe).
-- Reads raw oa_reads and oa_follows (a detail table: the overview never runs it). Most reads first:
--   account_id, name, merchant_id (NULL for media accounts)
--   reads           article reads
--   shares          reads that were shared
--   share_rate      shares / reads (fraction)
--   follows         new followers
--   unfollows       unfollows
--   net_followers   follows - unfollows
--   reads_previous  reads in the previous window
--   reads_growth    reads / reads_previous - 1 (fraction; NULL without previous reads)
WITH r AS (
    SELECT account_id,
           count(*) FILTER (WHERE ts >= $s AND ts < $e) AS reads,
           count(*) FILTER (WHERE ts >= $s AND ts < $e AND shared) AS shares,
           count(*) FILTER (WHERE ts >= $ps AND ts < $pe) AS reads_p
    FROM oa_reads
    WHERE ts >= least($s, $ps) AND ts < greatest($e, $pe)
      AND ((ts >= $s AND ts < $e) OR (ts >= $ps AND ts < $pe))
    GROUP BY account_id
),
top AS (SELECT * FROM r WHERE reads > 0 ORDER BY reads DESC, account_id LIMIT $n),
f AS (
    SELECT account_id,
           count(*) FILTER (WHERE action = 'follow') AS follows,
           count(*) FILTER (WHERE action = 'unfollow') AS unfollows
    FROM oa_follows
    WHERE ts >= $s AND ts < $e AND account_id IN (SELECT account_id FROM top)
    GROUP BY account_id
)
SELECT top.account_id, a.name, a.merchant_id,
       reads::BIGINT AS reads,
       shares::BIGINT AS shares,
       shares::DOUBLE / nullif(reads, 0) AS share_rate,
       coalesce(follows, 0)::BIGINT AS follows,
       coalesce(unfollows, 0)::BIGINT AS unfollows,
       (coalesce(follows, 0) - coalesce(unfollows, 0))::BIGINT AS net_followers,
       reads_p::BIGINT AS reads_previous,
       reads::DOUBLE / nullif(reads_p, 0) - 1 AS reads_growth
FROM top
LEFT JOIN official_accounts a USING (account_id)
LEFT JOIN f USING (account_id)
ORDER BY reads DESC, top.account_id
