-- State-like measures per bucket over [$s, $e) for the overview sparklines (the companion of
-- overview/trends for what is not a sum): the window split into $n equal buckets.
-- Returns $n rows, oldest first:
--   i                   bucket number 0 .. $n - 1
--   enterprises         WeCom enterprises created before the bucket's end
--   customer_groups     customer groups created before the bucket's end
--   active_groups       customer groups that received a mass message in the bucket
--   live_sessions       live sessions overlapping the bucket
--   peak_viewers        the highest peak concurrent viewers of a live session overlapping it
WITH g AS (
    SELECT i,
           $s + to_microseconds((i * (epoch($e) - epoch($s)) * 1000000 // $n)::BIGINT) AS bs,
           $s + to_microseconds(((i + 1) * (epoch($e) - epoch($s)) * 1000000 // $n)::BIGINT) AS be
    FROM range($n) r(i)
),
base AS (
    SELECT (SELECT count(*) FROM wecom_enterprises WHERE created_at < $s) AS ent0,
           (SELECT count(*) FROM groups WHERE kind = 'customer' AND created_at < $s) AS grp0
),
created AS (
    SELECT least($n - 1, floor((epoch(created_at) - epoch($s)) * $n / (epoch($e) - epoch($s))))::BIGINT AS i,
           count(*) FILTER (WHERE kind = 'enterprise') AS ent,
           count(*) FILTER (WHERE kind = 'customer') AS grp
    FROM (SELECT created_at, 'enterprise' AS kind FROM wecom_enterprises
          UNION ALL SELECT created_at, kind FROM groups WHERE kind = 'customer')
    WHERE created_at >= $s AND created_at < $e
    GROUP BY ALL
),
cum AS (
    SELECT g.i,
           base.ent0 + sum(coalesce(created.ent, 0)) OVER (ORDER BY g.i) AS enterprises,
           base.grp0 + sum(coalesce(created.grp, 0)) OVER (ORDER BY g.i) AS customer_groups
    FROM g CROSS JOIN base LEFT JOIN created USING (i)
),
act AS (
    SELECT least($n - 1, floor((epoch(m.ts) - epoch($s)) * $n / (epoch($e) - epoch($s))))::BIGINT AS i,
           count(DISTINCT m.group_id) AS n
    FROM wecom_messages m SEMI JOIN groups c ON c.group_id = m.group_id AND c.kind = 'customer'
    WHERE m.ts >= $s AND m.ts < $e
    GROUP BY ALL
),
live AS (
    SELECT g.i, count(l.live_id) AS n, coalesce(max(l.peak_viewers), 0) AS pk
    FROM g LEFT JOIN (SELECT live_id, started_at, ended_at, peak_viewers FROM live_sessions
                      WHERE started_at < $e AND (ended_at IS NULL OR ended_at > $s)) l
      ON l.started_at < g.be AND (l.ended_at IS NULL OR l.ended_at > g.bs)
    GROUP BY g.i
)
SELECT g.i,
       cum.enterprises::BIGINT AS enterprises,
       cum.customer_groups::BIGINT AS customer_groups,
       coalesce(act.n, 0)::BIGINT AS active_groups,
       live.n::BIGINT AS live_sessions,
       live.pk::BIGINT AS peak_viewers
FROM g JOIN cum USING (i) JOIN live USING (i) LEFT JOIN act USING (i)
ORDER BY g.i
