-- Official Accounts headline sums over [$s, $e) and the previous window [$ps, $pe), from rollups.
-- Returns rows win = 'c' (current) and 'p' (previous), always both:
--   reads          article reads
--   shares         reads that were shared
--   share_rate     shares / reads (fraction; NULL without reads)
--   follows        new followers (follow events)
--   unfollows      unfollow events
--   net_followers  follows - unfollows
--   articles       articles pushed (published) in the window
--   recipients     followers the window's articles were pushed to (helper of read rate)
-- Readers (distinct users) come from users/active; read rate = readers / recipients.
WITH r AS (
    SELECT 'c' AS win, measure, value FROM rollup_window($s, $e) WHERE measure LIKE 'oa.%'
    UNION ALL
    SELECT 'p', measure, value FROM rollup_window($ps, $pe) WHERE measure LIKE 'oa.%'
),
w AS (SELECT * FROM (VALUES ('c'), ('p')) v(win)),
t AS (
    SELECT w.win,
           coalesce(sum(value) FILTER (WHERE measure = 'oa.reads'), 0) AS reads,
           coalesce(sum(value) FILTER (WHERE measure = 'oa.shares'), 0) AS shares,
           coalesce(sum(value) FILTER (WHERE measure = 'oa.follows'), 0) AS follows,
           coalesce(sum(value) FILTER (WHERE measure = 'oa.unfollows'), 0) AS unfollows,
           coalesce(sum(value) FILTER (WHERE measure = 'oa.articles'), 0) AS articles,
           coalesce(sum(value) FILTER (WHERE measure = 'oa.recipients'), 0) AS recipients
    FROM w LEFT JOIN r USING (win) GROUP BY w.win
)
SELECT win,
       reads::BIGINT AS reads,
       shares::BIGINT AS shares,
       shares::DOUBLE / nullif(reads, 0) AS share_rate,
       follows::BIGINT AS follows,
       unfollows::BIGINT AS unfollows,
       (follows - unfollows)::BIGINT AS net_followers,
       articles::BIGINT AS articles,
       recipients::BIGINT AS recipients
FROM t
ORDER BY win
