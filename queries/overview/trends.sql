-- Every rollup measure per bucket over [$s, $e) for the overview sparklines, in long form: the
-- window split into $n equal buckets, summed from rollup_minute up to 24h, beyond from rollup_hour
-- for whole hours (an hour counts in the bucket where it starts) plus rollup_minute for the partial
-- hours at either edge, so each measure's buckets add up to the window's total.
-- Returns one row per bucket and measure that has data (missing rows are zeros):
--   i        bucket number 0 .. $n - 1 (oldest first)
--   measure  a rollup measure (msg.sessions, pay.gmv, ...; dims summed), plus ch.live_gmv for
--            pay.gmv of entry channels_live and ch.live_views / ch.video_views for ch.views by kind
--   value    the sum (DOUBLE)
WITH src AS (
    SELECT minute AS t, measure, dim, value FROM rollup_minute
    WHERE minute >= $s AND minute < $e
      AND ($e - $s <= INTERVAL 24 HOUR
           OR minute < date_trunc('hour', $s + INTERVAL 59 MINUTE) OR minute >= date_trunc('hour', $e))
    UNION ALL
    SELECT hour, measure, dim, value FROM rollup_hour
    WHERE $e - $s > INTERVAL 24 HOUR
      AND hour >= date_trunc('hour', $s + INTERVAL 59 MINUTE) AND hour < date_trunc('hour', $e)
),
b AS (
    SELECT least($n - 1, greatest(0, floor((epoch(t) - epoch($s)) * $n / (epoch($e) - epoch($s)))))::BIGINT AS i,
           measure, dim, value
    FROM src
    WHERE measure NOT IN ('ind.gmv', 'ps.state')
)
SELECT i, measure, sum(value)::DOUBLE AS value FROM b GROUP BY ALL
UNION ALL
SELECT i, 'ch.live_gmv', sum(value)::DOUBLE FROM b
WHERE measure = 'pay.gmv' AND dim = 'channels_live' GROUP BY ALL
UNION ALL
SELECT i, 'ch.' || dim || '_views', sum(value)::DOUBLE FROM b WHERE measure = 'ch.views' GROUP BY ALL
ORDER BY i, measure
