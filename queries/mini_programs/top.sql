-- Top $n Mini Programs over [$s, $e) by GMV, then visits, with growth against [$ps, $pe).
-- Reads the per-entity rollups (entity_window: whole days and hours, raw rows only for the partial
-- edge hours), so its cost does not grow with the window. GMV is the
-- owning merchant's payments with entry mini_program (a payment names its merchant, not the Mini
-- Program). Largest first:
--   mp_id, name, category, merchant_id
--   visits           visits in the window
--   orders           paid Mini Program orders of the merchant
--   gmv              their amount, CNY
--   gmv_previous     gmv in the previous window, CNY
--   gmv_growth       gmv / gmv_previous - 1 (fraction; NULL without previous gmv)
--   visits_previous  visits in the previous window
WITH x AS (
    SELECT 'c' AS win, * FROM entity_window($s, $e, ['mp', 'mpm'])
    UNION ALL
    SELECT 'p' AS win, * FROM entity_window($ps, $pe, ['mp', 'mpm'])
),
v AS (
    SELECT entity_id AS mp_id,
           coalesce(sum(value) FILTER (WHERE win = 'c'), 0) AS visits,
           coalesce(sum(value) FILTER (WHERE win = 'p'), 0) AS visits_p
    FROM x WHERE kind = 'mp' GROUP BY entity_id
),
o AS (
    SELECT entity_id AS merchant_id,
           coalesce(sum(value) FILTER (WHERE win = 'c' AND measure = 'orders'), 0) AS orders,
           coalesce(sum(value) FILTER (WHERE win = 'c' AND measure = 'gmv'), 0) AS gmv,
           coalesce(sum(value) FILTER (WHERE win = 'p' AND measure = 'gmv'), 0) AS gmv_p
    FROM x WHERE kind = 'mpm' GROUP BY entity_id
)
SELECT p.mp_id, p.name, p.category, p.merchant_id,
       coalesce(v.visits, 0)::BIGINT AS visits,
       coalesce(o.orders, 0)::BIGINT AS orders,
       coalesce(o.gmv, 0)::DECIMAL(38, 2) AS gmv,
       coalesce(o.gmv_p, 0)::DECIMAL(38, 2) AS gmv_previous,
       o.gmv::DOUBLE / nullif(o.gmv_p, 0) - 1 AS gmv_growth,
       coalesce(v.visits_p, 0)::BIGINT AS visits_previous
FROM mini_programs p
LEFT JOIN v USING (mp_id)
LEFT JOIN o ON o.merchant_id = p.merchant_id
WHERE coalesce(v.visits, 0) > 0 OR coalesce(o.orders, 0) > 0
ORDER BY gmv DESC, visits DESC, p.mp_id
LIMIT $n
