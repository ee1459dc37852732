-- Pay Score of merchant $m over [$s, $e). One row:
--   orders          orders created in the window
--   created, doing, done, revoked, expired   those orders by state
--   deposit_waived  deposits waived by those orders, CNY
--   completed       orders completed (state done) in the window
--   paid_d0, paid_d7, paid_d30   of those, collected within 1, 7 and 30 days of completion
--   collected_amount, completed_amount   amounts of the completed ones collected by $e, and all, CNY
--   overdue_30d     orders completed 30+ days before $e still unpaid (bad-debt proxy)
WITH p AS (
    SELECT ts >= $s AS c, state, deposit_waived, amount, paid_at, completed_at,
           state = 'done' AND completed_at >= $s AND completed_at < $e AS d
    FROM payscore_orders WHERE merchant_id = $m AND ts < $e
)
SELECT
    count(*) FILTER (WHERE c)::BIGINT AS orders,
    count(*) FILTER (WHERE c AND state = 'created')::BIGINT AS created,
    count(*) FILTER (WHERE c AND state = 'doing')::BIGINT AS doing,
    count(*) FILTER (WHERE c AND state = 'done')::BIGINT AS done,
    count(*) FILTER (WHERE c AND state = 'revoked')::BIGINT AS revoked,
    count(*) FILTER (WHERE c AND state = 'expired')::BIGINT AS expired,
    coalesce(sum(deposit_waived) FILTER (WHERE c), 0)::DECIMAL(38, 2) AS deposit_waived,
    count(*) FILTER (WHERE d)::BIGINT AS completed,
    count(*) FILTER (WHERE d AND paid_at < completed_at + INTERVAL 1 DAY)::BIGINT AS paid_d0,
    count(*) FILTER (WHERE d AND paid_at < completed_at + INTERVAL 7 DAY)::BIGINT AS paid_d7,
    count(*) FILTER (WHERE d AND paid_at < completed_at + INTERVAL 30 DAY)::BIGINT AS paid_d30,
    coalesce(sum(amount) FILTER (WHERE d AND paid_at < $e), 0)::DECIMAL(38, 2) AS collected_amount,
    coalesce(sum(amount) FILTER (WHERE d), 0)::DECIMAL(38, 2) AS completed_amount,
    count(*) FILTER (WHERE state = 'done' AND completed_at < $e::TIMESTAMPTZ - INTERVAL 30 DAY
                     AND (paid_at IS NULL OR paid_at >= $e))::BIGINT AS overdue_30d
FROM p
