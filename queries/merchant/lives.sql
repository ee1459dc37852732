-- The Channels live sessions of merchant $m that overlap [$s, $e) (started before $e and not ended
-- before $s), newest first. Views and payments in the window come from rollup_merchant_touch.
--   live_id, channel_id, started_at, ended_at (NULL while live), peak_viewers
--   viewers  distinct viewers of the live in the window
--   views    views of the live in the window
--   orders, gmv   paid payments made in the live in the window, CNY
WITH l AS (
    SELECT live_id, channel_id, started_at, ended_at, peak_viewers FROM live_sessions
    WHERE merchant_id = $m AND started_at < $e AND (ended_at IS NULL OR ended_at >= $s)
),
t AS (
    SELECT ref_id AS live_id,
           count(DISTINCT user_id) FILTER (WHERE step = 8) AS viewers,
           count(*) FILTER (WHERE step = 8) AS views,
           count(*) FILTER (WHERE step = 4) AS orders,
           sum(amount) FILTER (WHERE step = 4) AS gmv
    FROM rollup_merchant_touch
    WHERE merchant_id = $m AND step IN (4, 8) AND ref_id IS NOT NULL AND ts >= $s AND ts < $e
    GROUP BY ref_id
)
SELECT l.live_id, l.channel_id, l.started_at, l.ended_at, l.peak_viewers,
       coalesce(t.viewers, 0)::BIGINT AS viewers, coalesce(t.views, 0)::BIGINT AS views,
       coalesce(t.orders, 0)::BIGINT AS orders, coalesce(t.gmv, 0)::DECIMAL(38, 2) AS gmv
FROM l LEFT JOIN t USING (live_id)
ORDER BY l.started_at DESC, l.live_id DESC
