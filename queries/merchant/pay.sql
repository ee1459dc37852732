-- Payment measures of merchant $m over the window [$s, $e) (columns c_*) and the previous one
-- [$ps, $pe) (columns p_*), from rollup_merchant_touch: the merchant's payments and enrolments, its
-- whole history before $e for each payer's first payment and enrolment. One row; per window:
--   attempts         every payment attempt, failed included
--   orders           paid payments (status success or refunded)
--   gmv              amount of paid payments, CNY, not net of refunds
--   refunded         amount of refunded payments, counted at the original payment (step 10)
--   member_gmv       amount paid by members of the merchant (enrolled at or before the payment)
--   payers           distinct customers with a paid payment in the window
--   repeat_payers    of them, those with 2+ paid payments in the window
--   new_payers       payers whose first paid payment with the merchant ever is in the window
--                    (returning payers = payers - new_payers)
--   first_nonmember  new payers who were not members when they first paid
--   pay_after        of first_nonmember, those enrolled through pay_after in the window at or after
--                    that first payment (pay-to-member rate = pay_after / first_nonmember)
WITH ev AS (
    SELECT ts, user_id, step, amount, detail FROM rollup_merchant_touch
    WHERE merchant_id = $m AND ts < $e AND step IN (3, 4, 5, 10)
),
u AS (
    -- per payer of either window: first payment and enrolment ever, pay_after enrolments and
    -- payments per window
    SELECT user_id,
           min(ts) FILTER (WHERE step = 4) AS first_paid,
           min(ts) FILTER (WHERE step = 5) AS since,
           max(ts) FILTER (WHERE step = 5 AND detail = 'pay_after' AND ts >= $s) AS pa_c,
           max(ts) FILTER (WHERE step = 5 AND detail = 'pay_after' AND ts >= $ps AND ts < $pe) AS pa_p,
           count(*) FILTER (WHERE step = 4 AND ts >= $s) AS n_c,
           count(*) FILTER (WHERE step = 4 AND ts >= $ps AND ts < $pe) AS n_p
    FROM ev
    WHERE user_id IN (SELECT user_id FROM ev WHERE ts >= $ps AND step = 4)
    GROUP BY user_id
),
x AS (
    SELECT ev.ts >= $s AS c, ev.step, ev.amount, coalesce(u.since <= ev.ts, false) AS member
    FROM ev LEFT JOIN u USING (user_id)
    WHERE ev.ts >= $ps AND ev.step <> 5
),
t AS (
    SELECT count(*) FILTER (WHERE c AND step IN (3, 4)) AS c_attempts,
           count(*) FILTER (WHERE c AND step = 4) AS c_orders,
           coalesce(sum(amount) FILTER (WHERE c AND step = 4), 0) AS c_gmv,
           coalesce(sum(amount) FILTER (WHERE c AND step = 10), 0) AS c_refunded,
           coalesce(sum(amount) FILTER (WHERE c AND step = 4 AND member), 0) AS c_member_gmv,
           count(*) FILTER (WHERE NOT c AND step IN (3, 4)) AS p_attempts,
           count(*) FILTER (WHERE NOT c AND step = 4) AS p_orders,
           coalesce(sum(amount) FILTER (WHERE NOT c AND step = 4), 0) AS p_gmv,
           coalesce(sum(amount) FILTER (WHERE NOT c AND step = 10), 0) AS p_refunded,
           coalesce(sum(amount) FILTER (WHERE NOT c AND step = 4 AND member), 0) AS p_member_gmv
    FROM x
),
n AS (
    SELECT count(*) FILTER (WHERE n_c > 0) AS c_payers,
           count(*) FILTER (WHERE n_c >= 2) AS c_repeat_payers,
           count(*) FILTER (WHERE n_c > 0 AND first_paid >= $s) AS c_new_payers,
           count(*) FILTER (WHERE n_c > 0 AND first_paid >= $s
                            AND coalesce(since > first_paid, true)) AS c_first_nonmember,
           count(*) FILTER (WHERE n_c > 0 AND first_paid >= $s
                            AND coalesce(since > first_paid, true) AND pa_c >= first_paid) AS c_pay_after,
           count(*) FILTER (WHERE n_p > 0) AS p_payers,
           count(*) FILTER (WHERE n_p >= 2) AS p_repeat_payers,
           count(*) FILTER (WHERE n_p > 0 AND first_paid >= $ps) AS p_new_payers,
           count(*) FILTER (WHERE n_p > 0 AND first_paid >= $ps
                            AND coalesce(since > first_paid, true)) AS p_first_nonmember,
           count(*) FILTER (WHERE n_p > 0 AND first_paid >= $ps
                            AND coalesce(since > first_paid, true) AND pa_p >= first_paid) AS p_pay_after
    FROM u
)
SELECT * FROM t, n
