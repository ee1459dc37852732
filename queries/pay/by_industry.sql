-- Pay GMV by merchant industry over [$s, $e), with growth against the previous window [$ps, $pe),
-- from rollups (ind.gmv). One row per industry seen in either window, largest GMV first:
--   industry      merchant industry
--   gmv           paid payments' amount, CNY
--   gmv_share     gmv / all industries' gmv (fraction)
--   gmv_previous  gmv in the previous window, CNY
--   gmv_growth    gmv / gmv_previous - 1 (fraction; NULL without previous gmv)
WITH r AS (
    SELECT 'c' AS win, dim, value FROM rollup_window($s, $e) WHERE measure = 'ind.gmv'
    UNION ALL
    SELECT 'p', dim, value FROM rollup_window($ps, $pe) WHERE measure = 'ind.gmv'
),
t AS (
    SELECT dim AS industry,
           coalesce(sum(value) FILTER (WHERE win = 'c'), 0) AS gmv,
           coalesce(sum(value) FILTER (WHERE win = 'p'), 0) AS gmv_p
    FROM r GROUP BY dim
)
SELECT industry,
       gmv::DECIMAL(38, 2) AS gmv,
       gmv::DOUBLE / nullif(sum(gmv) OVER (), 0) AS gmv_share,
       gmv_p::DECIMAL(38, 2) AS gmv_previous,
       gmv::DOUBLE / nullif(gmv_p, 0) - 1 AS gmv_growth
FROM t
ORDER BY gmv DESC, industry
