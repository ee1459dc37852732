-- Mini Programs by category over [$s, $e) with growth against the previous window [$ps, $pe), from
-- rollups. Visits are by the Mini Program's category; orders and GMV by the paying merchant's
-- industry (a payment names its merchant, not the Mini Program), matched by name. One row per
-- category seen in either window, largest GMV first:
--   category         Mini Program category / merchant industry
--   visits           Mini Program visits
--   visits_previous  in the previous window
--   orders           paid Mini Program orders
--   gmv              their amount, CNY
--   gmv_share        gmv / all categories' gmv (fraction)
--   gmv_previous     gmv in the previous window, CNY
--   gmv_growth       gmv / gmv_previous - 1 (fraction; NULL without previous gmv)
--   visits_growth    visits / visits_previous - 1 (fraction)
WITH r AS (
    SELECT 'c' AS win, measure, dim, value FROM rollup_window($s, $e)
    WHERE measure IN ('mp.visits', 'mp.orders', 'mp.gmv')
    UNION ALL
    SELECT 'p', measure, dim, value FROM rollup_window($ps, $pe)
    WHERE measure IN ('mp.visits', 'mp.orders', 'mp.gmv')
),
t AS (
    SELECT dim AS category,
           coalesce(sum(value) FILTER (WHERE win = 'c' AND measure = 'mp.visits'), 0) AS visits,
           coalesce(sum(value) FILTER (WHERE win = 'p' AND measure = 'mp.visits'), 0) AS visits_p,
           coalesce(sum(value) FILTER (WHERE win = 'c' AND measure = 'mp.orders'), 0) AS orders,
           coalesce(sum(value) FILTER (WHERE win = 'c' AND measure = 'mp.gmv'), 0) AS gmv,
           coalesce(sum(value) FILTER (WHERE win = 'p' AND measure = 'mp.gmv'), 0) AS gmv_p
    FROM r GROUP BY dim
)
SELECT category,
       visits::BIGINT AS visits,
       visits_p::BIGINT AS visits_previous,
       orders::BIGINT AS orders,
       gmv::DECIMAL(38, 2) AS gmv,
       gmv::DOUBLE / nullif(sum(gmv) OVER (), 0) AS gmv_share,
       gmv_p::DECIMAL(38, 2) AS gmv_previous,
       gmv::DOUBLE / nullif(gmv_p, 0) - 1 AS gmv_growth,
       visits::DOUBLE / nullif(visits_p, 0) - 1 AS visits_growth
FROM t
ORDER BY gmv DESC, visits DESC, category
