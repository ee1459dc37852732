-- Top $n live sessions by live GMV over [$s, $e): lives overlapping the window, with the payments
-- made in them during the window, from the per-entity rollups (entity_window: whole days and
-- hours, raw rows only for the partial edge hours).
-- Largest GMV first:
--   live_id, channel_id, channel (name), merchant_id, started_at, ended_at (NULL while live)
--   peak_viewers   peak concurrent viewers of the live
--   orders         paid payments with entry channels_live in the live during the window
--   live_gmv       their amount, CNY
WITH l AS (
    SELECT live_id, channel_id, merchant_id, started_at, ended_at, peak_viewers
    FROM live_sessions
    WHERE started_at < $e AND (ended_at IS NULL OR ended_at > $s)
),
g AS (
    SELECT entity_id AS live_id,
           sum(value) FILTER (WHERE measure = 'orders') AS orders,
           sum(value) FILTER (WHERE measure = 'gmv') AS gmv
    FROM entity_window($s, $e, ['live'])
    GROUP BY entity_id
)
SELECT l.live_id, l.channel_id, c.name AS channel, l.merchant_id, l.started_at, l.ended_at,
       l.peak_viewers::BIGINT AS peak_viewers,
       coalesce(g.orders, 0)::BIGINT AS orders,
       coalesce(g.gmv, 0)::DECIMAL(38, 2) AS live_gmv
FROM l
LEFT JOIN g USING (live_id)
LEFT JOIN channels c USING (channel_id)
ORDER BY live_gmv DESC, peak_viewers DESC, l.live_id
LIMIT $n
