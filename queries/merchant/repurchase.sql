-- Repurchase within 30 and 90 days for merchant $m (DESIGN.md): of the customers whose first paid
-- payment in the window [$s, $e) is at least N days before $e (as_of), the share who paid again
-- within N days of it (another paid payment at or after it and at most N days later; all of those
-- fall before $e, so the window holds them). From rollup_merchant_touch.
-- One row:
--   cohort_30, repurchased_30   cohort and repurchasers for N = 30
--   cohort_90, repurchased_90   the same for N = 90
-- The rate is repurchased / cohort; there is none when the cohort is empty (for instance when the
-- window is N days long or shorter, nobody's first payment in it is N days before as_of).
WITH tx AS (
    SELECT user_id, ts FROM rollup_merchant_touch
    WHERE merchant_id = $m AND step = 4 AND ts >= $s AND ts < $e
),
f AS (
    SELECT user_id, min(ts) AS first_ts FROM tx GROUP BY user_id
    HAVING min(ts) <= $e::TIMESTAMPTZ - INTERVAL 30 DAY
),
c AS (
    SELECT f.user_id, f.first_ts,
           count(*) FILTER (WHERE tx.ts <= f.first_ts + INTERVAL 30 DAY) AS n30,
           count(*) FILTER (WHERE tx.ts <= f.first_ts + INTERVAL 90 DAY) AS n90
    FROM f JOIN tx USING (user_id)
    GROUP BY ALL
)
SELECT count(*) FILTER (WHERE first_ts <= $e::TIMESTAMPTZ - INTERVAL 30 DAY)::BIGINT AS cohort_30,
       count(*) FILTER (WHERE first_ts <= $e::TIMESTAMPTZ - INTERVAL 30 DAY AND n30 >= 2)::BIGINT AS repurchased_30,
       count(*) FILTER (WHERE first_ts <= $e::TIMESTAMPTZ - INTERVAL 90 DAY)::BIGINT AS cohort_90,
       count(*) FILTER (WHERE first_ts <= $e::TIMESTAMPTZ - INTERVAL 90 DAY AND n90 >= 2)::BIGINT AS repurchased_90
FROM c
