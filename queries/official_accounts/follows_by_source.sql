-- Official Account follows and unfollows by source (search, qr, article, mini_program, channels,
-- ...) over [$s, $e), with the previous window [$ps, $pe), from rollups. One row per source, most
-- new followers first:
--   source            where the follow came from
--   follows           new followers
--   unfollows         unfollows attributed to the source
--   net_followers     follows - unfollows
--   follows_share     follows / all follows of the window (fraction)
--   follows_previous  follows in the previous window
WITH r AS (
    SELECT 'c' AS win, measure, dim, value FROM rollup_window($s, $e)
    WHERE measure IN ('oa.follows', 'oa.unfollows')
    UNION ALL
    SELECT 'p', measure, dim, value FROM rollup_window($ps, $pe)
    WHERE measure IN ('oa.follows', 'oa.unfollows')
),
t AS (
    SELECT dim AS source,
           coalesce(sum(value) FILTER (WHERE win = 'c' AND measure = 'oa.follows'), 0) AS follows,
           coalesce(sum(value) FILTER (WHERE win = 'c' AND measure = 'oa.unfollows'), 0) AS unfollows,
           coalesce(sum(value) FILTER (WHERE win = 'p' AND measure = 'oa.follows'), 0) AS follows_p
    FROM r GROUP BY dim
)
SELECT source,
       follows::BIGINT AS follows,
       unfollows::BIGINT AS unfollows,
       (follows - unfollows)::BIGINT AS net_followers,
       follows::DOUBLE / nullif(sum(follows) OVER (), 0) AS follows_share,
       follows_p::BIGINT AS follows_previous
FROM t
ORDER BY follows DESC, source
