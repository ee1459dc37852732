"""A fast synthetic ecotop file for query benchmarks and tests, made in SQL (not the sample generator).

`synthetic_db(path, scale)` fills every raw table with deterministic pseudo-random rows (DuckDB's
`hash()`, so the same arguments give the same file), with a daily curve in Asia/Shanghai, Zipf-like
merchant sizes and volumes per day proportional to `scale` (scale 1 is about 1M users and 3.4M events a
day), then rebuilds the rollups. It is deliberately independent of `sample_data`: the queries layer
needs data of a known shape before (and besides) the calibrated generator, and its benchmarks need a
scale-1 file that takes about a minute to make.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

# Rows per day at scale 1 (events) and rows at scale 1 (dimensions).
PER_DAY = {
    "app_sessions": 1_000_000,
    "oa_articles": 20_000,
    "oa_reads": 400_000,
    "oa_follows": 40_000,
    "mp_visits": 500_000,
    "transactions": 600_000,
    "memberships": 20_000,
    "payscore_orders": 30_000,
    "wecom_contacts": 30_000,
    "group_members": 30_000,
    "wecom_messages": 10_000,
    "channel_posts": 20_000,
    "live_sessions": 2_000,
    "channel_views": 600_000,
}
DIMS = {
    "users": 1_000_000,
    "merchants": 20_000,
    "official_accounts": 30_000,
    "wecom_enterprises": 10_000,
    "customer_groups": 50_000,
    "chat_groups": 200_000,
    "channels": 20_000,
}
INDUSTRIES = [
    "food",
    "retail",
    "supermarket",
    "apparel",
    "transport",
    "lodging",
    "services",
    "fresh",
]
ENTRIES = ["qr", "mini_program", "in_app", "face", "channels_live"]
SCENARIOS = ["power_bank", "ride_hailing", "bike_sharing", "lodging", "car_rental", "courier"]
SOURCES = ["search", "qr", "article", "mini_program", "channels", "live", "card", "ad"]
DEFAULT_END = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)  # 12:00 Asia/Shanghai


def _u(expr: str, salt: str) -> str:
    """SQL for a deterministic uniform [0, 1) drawn from `expr` and `salt`."""
    return f"((hash({expr}, '{salt}') % 1000003)::DOUBLE / 1000003)"


def _zipf(expr: str, salt: str, n: int) -> str:
    """SQL for an id in [1, n] with P(id) ~ 1/id (log-uniform), from `expr` and `salt`."""
    return f"least({n}, floor(exp({_u(expr, salt)} * ln({n} + 1)))::BIGINT)"


def _pick(expr: str, salt: str, values: list[str], weights: list[float] | None = None) -> str:
    """SQL for one of `values` chosen by weight."""
    weights = weights or [1.0] * len(values)
    total = sum(weights)
    u = _u(expr, salt)
    parts, acc = [], 0.0
    for v, w in zip(values[:-1], weights[:-1], strict=True):
        acc += w / total
        parts.append(f"WHEN {u} < {acc:.6f} THEN '{v}'")
    return f"(CASE {' '.join(parts)} ELSE '{values[-1]}' END)"


def _n(scale: float, base: int) -> int:
    return max(1, round(base * scale))


def synthetic_db(
    path: str | Path,
    scale: float = 1.0,
    *,
    days: int = 60,
    end: datetime = DEFAULT_END,
    overwrite: bool = True,
    memory_limit: str = "6GB",
) -> Path:
    """Create `path` with `days` of synthetic events ending at `end` and rebuilt rollups."""
    from ecotop.store import Limits, create_db, rollups

    path = Path(path)
    db = create_db(path, overwrite=overwrite, limits=Limits(memory_limit=memory_limit))
    con = db.con
    start = end - timedelta(days=days)
    d = {k: _n(scale, v) for k, v in DIMS.items()}
    span_s = int((end - start).total_seconds())
    q = {"start": start, "end": end}

    def ex(sql: str) -> None:
        con.execute(sql, {k: v for k, v in q.items() if f"${k}" in sql})

    con.execute("BEGIN")
    # The minute grid with the daily curve in Asia/Shanghai (peaks 08:00, 12:00, 18:30, 21:00;
    # trough 02:00-06:00) and a weekend lift; w averages about 1 over a day.
    ex(
        """CREATE TEMP TABLE minutes AS
        WITH g AS (SELECT unnest(generate_series($start::TIMESTAMPTZ, $end::TIMESTAMPTZ - INTERVAL 1 MINUTE,
                                                 INTERVAL 1 MINUTE)) AS minute),
        h AS (SELECT minute, (extract('hour' FROM minute) + 8 + extract('minute' FROM minute) / 60) % 24 AS lh,
                     dayofweek(minute + INTERVAL 8 HOUR) IN (0, 6) AS weekend FROM g)
        SELECT minute, epoch(minute)::BIGINT // 60 AS mi,
               (0.15 + exp(-((lh - 8) ^ 2) / 2) + 1.3 * exp(-((lh - 12) ^ 2) / 1.5)
                + 1.1 * exp(-((lh - 18.5) ^ 2) / 2) + 1.0 * exp(-((lh - 21) ^ 2) / 2))
               * (CASE WHEN weekend THEN 1.15 ELSE 1.0 END) / 0.78 AS w
        FROM h ORDER BY minute"""
    )

    def events(table: str, salt: str) -> str:
        """SQL of (id, ts) rows of `table`: per minute a count following the curve, ordered by ts."""
        rate = PER_DAY[table] * scale / 1440
        return f"""(SELECT mi * 100000 + k AS id, minute + to_microseconds((k * 60000000 // cnt)::BIGINT) AS ts
                    FROM (SELECT minute, mi, cnt, unnest(range(cnt)) AS k FROM (
                          SELECT minute, mi, floor({rate} * w + {_u("mi", salt)})::BIGINT AS cnt
                          FROM minutes) WHERE cnt > 0))"""

    ind = _pick("merchant_id", "ind", INDUSTRIES, [3, 3, 1, 2, 1, 1, 2, 1])
    ex(
        f"""INSERT INTO users SELECT i, $start::TIMESTAMPTZ - to_seconds(({_u("i", "reg")} * 86400 * 900)::BIGINT),
               'city' || (i % 300), 'province' || (i % 31) FROM range(1, {d["users"]} + 1) r(i)"""
    )
    ex(
        f"""INSERT INTO merchants SELECT merchant_id, 'merchant ' || merchant_id, {ind},
               'city' || (merchant_id % 300), 'province' || (merchant_id % 31), 1.0 / merchant_id,
               $start::TIMESTAMPTZ - INTERVAL 400 DAY
            FROM range(1, {d["merchants"]} + 1) r(merchant_id)"""
    )
    ex(
        """INSERT INTO mini_programs SELECT merchant_id, merchant_id, 'mp ' || merchant_id, industry
            FROM merchants"""
    )
    ex(
        f"""INSERT INTO official_accounts SELECT i, CASE WHEN i <= {d["merchants"]} THEN i END,
               'oa ' || i, $start::TIMESTAMPTZ - INTERVAL 500 DAY FROM range(1, {d["official_accounts"]} + 1) r(i)"""
    )
    ex(
        f"""INSERT INTO wecom_enterprises SELECT i, CASE WHEN i <= {d["merchants"]} THEN i END, 'corp ' || i,
               5 + floor({_u("i", "staff")} * 200)::INT,
               $start::TIMESTAMPTZ - INTERVAL 100 DAY + to_seconds(({_u("i", "ec")} * ({span_s} + 86400 * 100))::BIGINT)
            FROM range(1, {d["wecom_enterprises"]} + 1) r(i)"""
    )
    ncg, nchat = d["customer_groups"], d["chat_groups"]
    ex(
        f"""INSERT INTO groups SELECT i, CASE WHEN i <= {ncg} THEN 'customer' ELSE 'chat' END,
               CASE WHEN i <= {ncg} THEN 1 + i % {min(d["merchants"], d["wecom_enterprises"])} END,
               least(500, floor(exp({_u("i", "gs")} * ln(700)))::INT),
               $start::TIMESTAMPTZ - INTERVAL 100 DAY + to_seconds(({_u("i", "gc")} * ({span_s} + 86400 * 100))::BIGINT),
               'group ' || i
            FROM range(1, {ncg + nchat} + 1) r(i)"""
    )
    ex(
        f"""INSERT INTO channels SELECT i, CASE WHEN i <= {d["merchants"]} THEN i END, 'channel ' || i,
               floor(exp({_u("i", "fol")} * 12))::BIGINT, $start::TIMESTAMPTZ - INTERVAL 300 DAY
            FROM range(1, {d["channels"]} + 1) r(i)"""
    )
    nu, nm, noa, nch = d["users"], d["merchants"], d["official_accounts"], d["channels"]
    user = f"(1 + hash(id, 'user') % {nu})::BIGINT"
    ex(
        f"""INSERT INTO app_sessions SELECT ts, {user},
               1 + ({_u("id", "op")} < 0.3)::INT, floor({_u("id", "msg")} * 30)::INT,
               CASE WHEN {_u("id", "vc")} < 0.12 THEN round(1 + {_u("id", "vcm")} * 25, 1) ELSE 0 END,
               CASE WHEN {_u("id", "mv")} < 0.55 THEN 1 + floor({_u("id", "mvn")} * 12)::INT ELSE 0 END,
               CASE WHEN {_u("id", "mp")} < 0.06 THEN 1 + floor({_u("id", "mpn")} * 3)::INT ELSE 0 END
            FROM {events("app_sessions", "s")}"""
    )
    # Articles first (ids in time order), then reads of articles published up to a day before.
    ex(
        f"""INSERT INTO oa_articles SELECT row_number() OVER (ORDER BY ts), 0, ts,
               100 + floor({_u("id", "rc")} * 4000)::INT, 'article ' || id
            FROM {events("oa_articles", "a")}"""
    )
    ex(f"UPDATE oa_articles SET account_id = {_zipf('article_id', 'acc', noa)}")
    ex(
        """CREATE TEMP TABLE article_minute AS SELECT date_trunc('minute', published_at) AS minute,
               min(article_id) AS lo, max(article_id) AS hi FROM oa_articles GROUP BY ALL"""
    )
    ex(
        f"""INSERT INTO oa_reads SELECT e.ts, a.article_id, a.account_id, {user.replace("id,", "e.id,")},
               {_u("e.id", "sh")} < 0.08
            FROM {events("oa_reads", "r")} e
            ASOF JOIN (SELECT minute, hi FROM article_minute) m ON e.ts >= m.minute
            JOIN oa_articles a ON a.article_id = greatest(1, m.hi - floor({_u("e.id", "art")} * 2000)::BIGINT)
            ORDER BY e.ts"""
    )
    ex(
        f"""INSERT INTO oa_follows SELECT ts, {_zipf("id", "fa", noa)}, {user},
               CASE WHEN {_u("id", "act")} < 0.8 THEN 'follow' ELSE 'unfollow' END, {_pick("id", "src", SOURCES)}
            FROM {events("oa_follows", "f")}"""
    )
    ex(
        f"""INSERT INTO mp_visits SELECT ts, {_zipf("id", "mpv", nm)} AS mp, mp, {user},
               1 + floor({_u("id", "pg")} * 8)::INT, floor({_u("id", "st")} * 600)::INT
            FROM {events("mp_visits", "v")}"""
    )
    # Live sessions before the payments and views that refer to them.
    ex(
        f"""INSERT INTO live_sessions SELECT row_number() OVER (ORDER BY ts), c, CASE WHEN c <= {nm} THEN c END, ts,
               CASE WHEN ts + to_seconds(e_s) < $end THEN ts + to_seconds(e_s) END, peak
            FROM (SELECT ts, {_zipf("id", "lc", nch)} AS c, (1800 + floor({_u("id", "ld")} * 12600))::BIGINT AS e_s,
                         floor(exp({_u("id", "pk")} * 9))::INT AS peak FROM {events("live_sessions", "l")})"""
    )
    nlive = con.execute("SELECT count(*) FROM live_sessions").fetchall()[0][0]
    entry = _pick("id", "entry", ENTRIES, [40, 25, 15, 10, 10])
    amount = f"round(exp(3.2 + 1.0 * ({_u('id', 'a1')} + {_u('id', 'a2')} + {_u('id', 'a3')} - 1.5) * 2), 2)"
    ex(
        f"""INSERT INTO transactions SELECT id, ts, {user}, {_zipf("id", "mch", nm)}, {amount}::DECIMAL(18,2), entry,
               CASE WHEN {_u("id", "st")} < 0.012 THEN 'failed' WHEN {_u("id", "st")} < 0.035 THEN 'refunded'
                    ELSE 'success' END AS status,
               NULL, CASE WHEN entry = 'channels_live' THEN greatest(1, least({max(nlive, 1)},
                          floor({_u("id", "lv")} * {max(nlive, 1)})::BIGINT)) END
            FROM (SELECT id, ts, {entry} AS entry FROM {events("transactions", "t")})"""
    )
    ex(
        "UPDATE transactions SET refunded_at = ts + INTERVAL 3 HOUR WHERE status = 'refunded' "
        "AND ts + INTERVAL 3 HOUR < $end"
    )
    ex(
        "UPDATE transactions SET status = 'success' WHERE status = 'refunded' AND refunded_at IS NULL"
    )
    ex(
        f"""INSERT INTO memberships SELECT {_zipf("id", "mm", nm)}, {user}, ts,
               {_pick("id", "ch", ["pay_after", "mini_program", "official_account", "wecom", "channels"])}, NULL
            FROM {events("memberships", "m")}"""
    )
    state = _pick("id", "pst", ["done", "doing", "created", "revoked", "expired"], [85, 5, 2, 5, 3])
    ex(
        f"""INSERT INTO payscore_orders SELECT id, ts, {user}, {_zipf("id", "psm", nm)}, scenario, state,
               (99 + floor({_u("id", "dw")} * 400))::DECIMAL(18,2), (2 + floor({_u("id", "am")} * 4800) / 100)::DECIMAL(18,2),
               done_at, CASE WHEN done_at IS NULL THEN NULL
                             WHEN pu < 0.88 - bad THEN done_at + to_seconds(floor({_u("id", "p0")} * 3600)::BIGINT)
                             WHEN pu < 0.94 - bad THEN done_at + INTERVAL 1 DAY + to_seconds(floor({_u("id", "p7")} * 86400 * 5)::BIGINT)
                             WHEN pu < 0.985 - bad THEN done_at + INTERVAL 7 DAY + to_seconds(floor({_u("id", "p30")} * 86400 * 22)::BIGINT)
                        END
            FROM (SELECT id, ts, scenario, state, {_u("id", "pu")} AS pu,
                         CASE scenario WHEN 'bike_sharing' THEN -0.01 WHEN 'power_bank' THEN 0.01 ELSE 0 END AS bad,
                         CASE WHEN state = 'done' THEN ts + to_seconds((300 + floor({_u("id", "dur")} * 10000))::BIGINT) END AS done_at
                  FROM (SELECT id, ts, {_pick("id", "sc", SCENARIOS, [4, 3, 3, 1, 1, 1])} AS scenario, {state} AS state
                        FROM {events("payscore_orders", "p")}))"""
    )
    # Nothing after the end of the file: orders not yet completed are still doing, not yet paid unpaid.
    ex(
        "UPDATE payscore_orders SET state = 'doing', completed_at = NULL, paid_at = NULL WHERE completed_at >= $end"
    )
    ex("UPDATE payscore_orders SET paid_at = NULL WHERE paid_at >= $end")
    ncorp = d["wecom_enterprises"]
    ex(
        f"""INSERT INTO wecom_contacts SELECT ts, corp, CASE WHEN corp <= {nm} THEN corp END,
               corp * 1000 + floor({_u("id", "stf")} * 50)::BIGINT, {user},
               CASE WHEN {_u("id", "ca")} < 0.85 THEN 'add' ELSE 'remove' END
            FROM (SELECT id, ts, {_zipf("id", "corp", ncorp)} AS corp FROM {events("wecom_contacts", "c")})"""
    )
    ex(
        f"""INSERT INTO group_members SELECT ts, {_zipf("id", "gm", ncg)}, {user},
               CASE WHEN {_u("id", "ja")} < 0.8 THEN 'join' ELSE 'leave' END
            FROM {events("group_members", "g")}"""
    )
    ex(
        f"""INSERT INTO wecom_messages SELECT ts, {_zipf("id", "wc", ncorp)},
               CASE WHEN {_u("id", "tg")} < 0.5 THEN {_zipf("id", "wg", ncg)} END, tg,
               floor(tg * (0.85 + 0.15 * {_u("id", "dl")}))::INT, floor(tg * 0.1 * {_u("id", "cl")})::INT
            FROM (SELECT id, ts, (10 + floor({_u("id", "tgn")} * 490))::INT AS tg FROM {events("wecom_messages", "w")})"""
    )
    ex(
        f"""INSERT INTO channel_posts SELECT row_number() OVER (ORDER BY ts), {_zipf("id", "pc", nch)}, ts,
               (10 + floor({_u("id", "du")} * 170))::INT FROM {events("channel_posts", "cp")}"""
    )
    nposts = con.execute("SELECT count(*) FROM channel_posts").fetchall()[0][0]
    ex(
        f"""INSERT INTO channel_views SELECT v.ts, {user.replace("id,", "v.id,")}, coalesce(p.channel_id, l.channel_id, 1), v.post_id, v.live_id,
               floor({_u("v.id", "ws")} * 180)::INT, {_u("v.id", "cmp")} < 0.35
            FROM (SELECT id, ts,
                         CASE WHEN {_u("id", "vl")} >= 0.3 THEN greatest(1, floor({_u("id", "vp")} * {max(nposts, 1)})::BIGINT) END AS post_id,
                         CASE WHEN {_u("id", "vl")} < 0.3 THEN greatest(1, floor({_u("id", "vli")} * {max(nlive, 1)})::BIGINT) END AS live_id
                  FROM {events("channel_views", "cv")}) v
            LEFT JOIN channel_posts p ON p.post_id = v.post_id
            LEFT JOIN live_sessions l ON l.live_id = v.live_id
            ORDER BY v.ts"""
    )
    con.execute("DROP TABLE minutes")
    con.execute("DROP TABLE article_minute")
    con.execute(
        "INSERT OR REPLACE INTO ecotop_meta VALUES ('sample_mod', $m), ('scale', $s), "
        "('generated_until', $e), ('display_zone', 'Asia/Shanghai')",
        {"m": str(rollups.choose_sample_mod(d["users"])), "s": str(scale), "e": end.isoformat()},
    )
    rollups.rebuild(con)
    con.execute("COMMIT")
    con.execute("CHECKPOINT")
    db.close()
    return path
