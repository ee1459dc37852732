-- Distinct users per activity flag in the current window [$s, $e) and the previous one [$ps, $pe),
-- exactly, from the raw events (view activity_events). Used for ranges up to 24h.
-- One pass over the events of both windows: a user's flags in each window are OR-ed separately.
-- Returns rows win = 'c' (current) and 'p' (previous; absent when it has no events), one column
-- per flag of store.rollups.FLAGS (active, video_call, moments_view, moments_post, oa_reader,
-- mp_user, mp_payer, payer, payscore_user, channels_viewer).
WITH u AS (
    SELECT bit_or(flags) FILTER (WHERE ts >= $s AND ts < $e) AS fc,
           bit_or(flags) FILTER (WHERE ts >= $ps AND ts < $pe) AS fp
    FROM activity_events
    WHERE ts >= least($s, $ps) AND ts < greatest($e, $pe)
      AND ((ts >= $s AND ts < $e) OR (ts >= $ps AND ts < $pe))
    GROUP BY user_id
),
w AS (SELECT 'c' AS win, fc AS f FROM u WHERE fc IS NOT NULL
      UNION ALL
      SELECT 'p', fp FROM u WHERE fp IS NOT NULL)
SELECT win,
       count(*) FILTER (WHERE f & 1 <> 0) AS active,
       count(*) FILTER (WHERE f & 2 <> 0) AS video_call,
       count(*) FILTER (WHERE f & 4 <> 0) AS moments_view,
       count(*) FILTER (WHERE f & 8 <> 0) AS moments_post,
       count(*) FILTER (WHERE f & 16 <> 0) AS oa_reader,
       count(*) FILTER (WHERE f & 32 <> 0) AS mp_user,
       count(*) FILTER (WHERE f & 64 <> 0) AS mp_payer,
       count(*) FILTER (WHERE f & 128 <> 0) AS payer,
       count(*) FILTER (WHERE f & 256 <> 0) AS payscore_user,
       count(*) FILTER (WHERE f & 512 <> 0) AS channels_viewer
FROM w GROUP BY win ORDER BY win
