-- The closed-loop funnel of merchant $m over the window [$s, $e) (DESIGN.md, "The merchant closed
-- loop"), from rollup_merchant_touch (the merchant's events, sorted by merchant). Steps in order:
-- 1 oa_read (Official Account reach), 2 mp_visit, 3 order (any payment attempt), 4 pay (paid),
-- 5 member (enrolment), 6 wecom_add (WeCom contact), 7 group_join (customer group), 8 live_view
-- (Channels live of the merchant), 9 repurchase (a paid payment that is not the customer's first paid
-- payment of the window).
-- One row per step, by position:
--   customers  distinct customers who did the step in the window
--   base       customers of the previous step (NULL for the first step)
--   converted  of those, the customers who did this step at or after their first previous-step event
--   conversion converted / base (NULL when base is 0, and for the first step); never above 1
-- A customer who skipped earlier steps still counts in every step they did.
WITH r AS (
    SELECT user_id, ts, step FROM rollup_merchant_touch
    WHERE merchant_id = $m AND ts >= $s AND ts < $e AND step <= 8
),
t AS (
    SELECT user_id, position, min(ts) AS first_ts, max(ts) AS last_ts, count(*) AS n
    FROM (
        SELECT user_id, ts, CASE WHEN step = 4 THEN 3 ELSE step END AS position FROM r
        UNION ALL
        SELECT user_id, ts, 4 FROM r WHERE step = 4
    )
    GROUP BY ALL
),
u AS (
    SELECT user_id, position, first_ts, last_ts FROM t
    UNION ALL
    SELECT user_id, 9, NULL, last_ts FROM t WHERE position = 4 AND n >= 2
),
steps(position, step) AS (
    VALUES (1, 'oa_read'), (2, 'mp_visit'), (3, 'order'), (4, 'pay'), (5, 'member'),
           (6, 'wecom_add'), (7, 'group_join'), (8, 'live_view'), (9, 'repurchase')
),
counts AS (SELECT position, count(*) AS customers FROM u GROUP BY position),
conv AS (
    SELECT p.position + 1 AS position, count(*) AS base,
           count(*) FILTER (WHERE nx.last_ts >= p.first_ts) AS converted
    FROM u p
    LEFT JOIN u nx ON nx.user_id = p.user_id AND nx.position = p.position + 1
    WHERE p.position < 9
    GROUP BY p.position
)
SELECT s.position, s.step,
       coalesce(c.customers, 0)::BIGINT AS customers,
       CASE WHEN s.position > 1 THEN coalesce(v.base, 0) END::BIGINT AS base,
       CASE WHEN s.position > 1 THEN coalesce(v.converted, 0) END::BIGINT AS converted,
       v.converted::DOUBLE / nullif(v.base, 0) AS conversion
FROM steps s
LEFT JOIN counts c USING (position)
LEFT JOIN conv v USING (position)
ORDER BY s.position
