"""The SQL of the sample ecosystem, shared by the generator (history) and the live event source.

Randomness is `hash(key, salt, seed)`, never `random()`, so every value is a pure function of
(scale, seed, key). Volumes come from per-minute arrival rates (daily curve in the display zone,
weekend lift, daily and per-minute noise); a minute's row count is the difference of the floored
running sum of rates within its local day, so a minute's events are the same whoever generates them.

Every statement here is built only from numbers computed in this package (never from user input).

Data over ~500 lines: the sample ecosystem's SQL text, one statement per table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ecotop.sample_data import model
from ecotop.sample_data.model import (
    EVENTS,
    INDUSTRIES,
    PBIG,
    POOL_RATIO,
    REPEAT_SHARE,
    SCENARIOS,
    Params,
)

US_PER_MIN = 60_000_000
CHUNK = 32


def _lut(weights: list[float], buckets: int = 1000) -> str:
    """A list literal mapping a bucket (1..buckets) to a 1-based index drawn with `weights`."""
    total = sum(weights)
    out: list[int] = []
    acc = 0.0
    idx = 0
    for b in range(buckets):
        x = (b + 0.5) / buckets * total
        while idx < len(weights) - 1 and acc + weights[idx] < x:
            acc += weights[idx]
            idx += 1
        out.append(idx + 1)
    return "[" + ",".join(map(str, out)) + "]"


def _str_list(items: tuple[str, ...] | list[str]) -> str:
    return "[" + ",".join("'" + s.replace("'", "''") + "'" for s in items) + "]"


def _num_list(items: list[float]) -> str:
    return "[" + ",".join(repr(float(x)) for x in items) + "]"


def _pick(u: str, n: int) -> str:
    """1-based uniform index in 1..n from a uniform u in [0, 1)."""
    return f"(1 + floor({u} * {n}))::BIGINT"


def macros(p: Params) -> list[str]:
    """Temporary macros every other statement uses."""
    s = p.seed_sql
    r0 = p.zipf_r0
    m = p.n_merchants
    return [
        # uniform in [0, 1) and standard normal, from a key and a salt
        f"CREATE OR REPLACE TEMP MACRO ru(k, t) AS "
        f"((hash(k, t, {s}) >> 11)::DOUBLE * 1.1102230246251565e-16)",
        f"CREATE OR REPLACE TEMP MACRO hb(k, t) AS ((hash(k, t, {s}) >> 2)::BIGINT)",
        # approximately standard normal (Irwin-Hall of four 16-bit uniforms of one hash, |z| < 3.47)
        "CREATE OR REPLACE TEMP MACRO zn(h) AS ((((h & 65535) + ((h >> 16) & 65535) + ((h >> 32) & 65535) "
        "+ (h >> 48))::DOUBLE / 65536.0 - 2.0) * 1.7320508075688772)",
        f"CREATE OR REPLACE TEMP MACRO rn(k, t) AS zn(hash(k, t, {s}))",
        # Zipf (alpha 1, offset r0) rank in 1..n from a uniform
        f"CREATE OR REPLACE TEMP MACRO zipf(u, n) AS "
        f"least(n, (floor({r0} * pow((n + {r0}) / {r0}, u) - {r0}))::BIGINT + 1)",
        # merchant id of a size rank (rank 1 is the biggest)
        f"CREATE OR REPLACE TEMP MACRO mid(r) AS (((r - 1) * {p.merchant_mult}) % {m} + 1)",
        # the k-th favourite merchant of a user
        f"CREATE OR REPLACE TEMP MACRO fav(u, k) AS mid({_zipf(p, 'ru(u * 16 + k, 301)', m)})",
        # the user at index ai of a day's active list: core users (every day) then a daily slice
        # (offset cp) of the occasional pool
        f"CREATE OR REPLACE TEMP MACRO uact(ai, cp) AS ((((CASE WHEN ai < {p.core} THEN ai ELSE "
        f"{p.core} + ((ai - {p.core}) * {PBIG} + cp) % {p.pool} END) * {p.user_mult}) % {p.n_users}) + 1)",
        # index in the day's active list of the pool member of event kd (of e that day) among r
        # distinct users of a pillar (c1, c2: the slot's per-day offsets); uact() makes it a user id
        f"CREATE OR REPLACE TEMP MACRO poolidx(kd, e, r, dau, c1, c2) AS "
        f"((((kd * {PBIG} + c1) % e) % r) * {PBIG} + c2) % dau",
        # 2020-01-01 local day numbers
        "CREATE OR REPLACE TEMP MACRO ts_of(us) AS make_timestamptz(us::BIGINT)",
    ]


# --------------------------------------------------------------------------------------------
# Dimensions: pure functions of (scale, seed). Temp tables _m (merchants), _acct, _mp, _corp,
# _chan, _grp, _psm. Times are filled in later relative to the history start.
# --------------------------------------------------------------------------------------------


def dimension_sql(p: Params) -> list[str]:
    m = p.n_merchants
    ind_lut = _lut([i.merchant_share for i in INDUSTRIES])
    # the biggest merchants (top ~m^0.35 ranks) are chains in everyday, high-frequency industries
    big = {
        "catering": 0.35,
        "beverage": 0.2,
        "convenience": 0.25,
        "supermarket": 0.1,
        "transport": 0.1,
    }
    big_lut = _lut([big.get(i.key, 0.0) for i in INDUSTRIES])
    city_lut = _lut([c[2] for c in model.CITIES])
    n_ind = len(INDUSTRIES)
    ps_ind: dict[str, list[tuple[int, float]]] = {}
    for si, sc in enumerate(SCENARIOS, start=1):
        for ind in sc[2]:
            ps_ind.setdefault(ind, []).append((si, sc[1]))
    ps_case = []
    for ii, industry in enumerate(INDUSTRIES, start=1):
        opts = ps_ind.get(industry.key)
        if not opts:
            continue
        tot = sum(w for _, w in opts)
        acc = 0.0
        parts = []
        for si, w in opts:
            acc += w / tot
            parts.append(f"WHEN ru(merchant_id, 41) < {acc!r} THEN {si}")
        elig = 0.9 if industry.key in ("transport", "lodging") else 0.45
        if industry.key in ("catering", "entertainment"):
            elig = 0.04
        ps_case.append(
            f"WHEN ind = {ii} AND ru(merchant_id, 40) < {elig} THEN CASE {' '.join(parts)} ELSE {opts[-1][0]} END"
        )
    live_l = _live_scale(p)
    mu = [math.log(i.mean_amount) - i.sigma**2 / 2 for i in INDUSTRIES]
    sig = [i.sigma for i in INDUSTRIES]
    lift = [i.mp_lift for i in INDUSTRIES]
    stmts = [
        f"""CREATE OR REPLACE TEMP TABLE _m AS
        SELECT *,
          CASE WHEN has_oa THEN sum(has_oa::INT) OVER (ORDER BY rank ROWS UNBOUNDED PRECEDING) END AS account_id,
          CASE WHEN has_mp THEN sum(has_mp::INT) OVER (ORDER BY rank ROWS UNBOUNDED PRECEDING) END AS mp_id,
          CASE WHEN has_corp THEN sum(has_corp::INT) OVER (ORDER BY rank ROWS UNBOUNDED PRECEDING) END AS corp_id,
          CASE WHEN has_ch THEN sum(has_ch::INT) OVER (ORDER BY rank ROWS UNBOUNDED PRECEDING) END AS channel_id,
          CASE WHEN has_corp THEN sum(ngroups) OVER (ORDER BY rank ROWS UNBOUNDED PRECEDING) - ngroups + 1 END AS first_gid
        FROM (
          SELECT *,
            CASE WHEN has_corp THEN greatest(1, round(staff * 0.08 * exp(0.5 * rn(merchant_id, 37)))::BIGINT) ELSE 0 END AS ngroups,
            CASE {" ".join(ps_case)} ELSE NULL END AS ps_scen
          FROM (
            SELECT rank, merchant_id, size_weight, q, ind, city,
              {_num_list(mu)}[ind] AS mu, {_num_list(sig)}[ind] AS sig, {_num_list(lift)}[ind] AS lift,
              ru(merchant_id, 31) < 0.85 - 0.50 * q AS has_oa,
              ru(merchant_id, 32) < 0.80 - 0.45 * q AS has_mp,
              ru(merchant_id, 33) < 0.75 - 0.55 * q AS has_corp,
              ru(merchant_id, 34) < 0.65 - 0.50 * q AS has_ch,
              least(40000, greatest(1, round(exp(1.0 + 0.9 * rn(merchant_id, 35)) * (1 + 400 * size_weight))))::INTEGER AS staff,
              least(0.8, {live_l!r} * sqrt(size_weight)) AS p_live
            FROM (
              SELECT r AS rank, mid(r) AS merchant_id, ({p.zipf_r0} + 1) / (r + {p.zipf_r0}) AS size_weight,
                     ln(r) / ln({max(m, 2)}) AS q,
                     CASE WHEN ln(r) / ln({max(m, 2)}) < 0.35 THEN {big_lut}[{_pick("ru(mid(r), 21)", 1000)}]
                          ELSE {ind_lut}[{_pick("ru(mid(r), 21)", 1000)}] END AS ind,
                     {city_lut}[{_pick("ru(mid(r), 22)", 1000)}] AS city
              FROM range(1, {m + 1}) t(r)
            )
          )
        ) ORDER BY rank""",
        # Official Accounts: merchants' (rank order) then media accounts
        f"""CREATE OR REPLACE TEMP TABLE _acct AS
        SELECT account_id, merchant_id, size_weight, media,
          CASE WHEN media THEN period_x ELSE period_m END AS per, pub_h, followers
        FROM (
        SELECT account_id, merchant_id, size_weight, media,
          [1, 2, 3, 7, 14, 30][{_lut([0.03, 0.04, 0.10, 0.30, 0.28, 0.25], 100)}[{_pick("ru(account_id, 51)", 100)}]] AS period_m,
          [1, 1, 2, 3][{_pick("ru(account_id, 52)", 4)}] AS period_x,
          CASE WHEN ru(account_id, 53) < 0.5 THEN 7.5 + 1.5 * ru(account_id, 54) ELSE 20.0 + 1.5 * ru(account_id, 54) END AS pub_h,
          least({p.n_users}, round(exp(4.6 + 1.0 * rn(account_id, 55)) * (1 + 20 * size_weight)))::BIGINT AS followers
        FROM (
          SELECT account_id, merchant_id, size_weight, false AS media FROM _m WHERE has_oa
          UNION ALL
          SELECT (SELECT count(*) FROM _m WHERE has_oa) + i, NULL, 0.5 / (i + 4), true FROM range(1, {p.n_media + 1}) t(i)
        )) ORDER BY account_id""",
        """CREATE OR REPLACE TEMP TABLE _mp AS
        SELECT mp_id, merchant_id, ind FROM _m WHERE has_mp ORDER BY mp_id""",
        f"""CREATE OR REPLACE TEMP TABLE _corp AS
        SELECT corp_id, merchant_id, staff, ngroups, first_gid FROM _m WHERE has_corp
        UNION ALL
        SELECT (SELECT count(*) FROM _m WHERE has_corp) + i, NULL,
               greatest(1, round(exp(1.5 + 1.0 * rn(i, 61))))::INTEGER, 0, NULL
        FROM range(1, {p.n_other_corps + 1}) t(i)
        ORDER BY 1""",
        # Channels: merchants' (rank order) then creators
        f"""CREATE OR REPLACE TEMP TABLE _chan AS
        SELECT channel_id, merchant_id, size_weight, p_live,
          [1, 2, 3, 7][{_pick("ru(channel_id, 71)", 4)}] AS period,
          10.0 + 12.0 * ru(channel_id, 72) AS post_h,
          round(exp(CASE WHEN merchant_id IS NULL THEN 6.0 + 1.8 * rn(channel_id, 73)
                         ELSE 5.0 + 1.5 * rn(channel_id, 73) END) * (1 + 50 * size_weight))::BIGINT AS followers
        FROM (
          SELECT channel_id, merchant_id, size_weight, p_live FROM _m WHERE has_ch
          UNION ALL
          SELECT (SELECT count(*) FROM _m WHERE has_ch) + i, NULL, 0.3 / (i + 4), 0.004
          FROM range(1, {p.n_creators + 1}) t(i)
        ) ORDER BY channel_id""",
        # Groups: each WeCom merchant's customer groups, then chat groups
        f"""CREATE OR REPLACE TEMP TABLE _grp AS
        SELECT group_id, kind, merchant_id, corp_id, base FROM (
          SELECT m.first_gid + g.i AS group_id, 'customer' AS kind, m.merchant_id, m.corp_id,
                 least(450, greatest(3, round(exp(3.0 + 1.1 * rn(m.first_gid + g.i, 81)))))::INTEGER AS base
          FROM _m m, range(m.ngroups) g(i) WHERE m.has_corp
          UNION ALL
          SELECT (SELECT coalesce(sum(ngroups), 0) FROM _m) + i, 'chat', NULL, NULL,
                 least(500, greatest(3, round(exp(1.9 + 1.1 * rn(-i, 82)))))::INTEGER
          FROM range(1, {p.n_chat_groups + 1}) t(i)
        ) ORDER BY group_id""",
        # Pay Score merchants by scenario, ranked by size within it
        """CREATE OR REPLACE TEMP TABLE _psm AS
        SELECT ps_scen AS scen, row_number() OVER (PARTITION BY ps_scen ORDER BY rank) AS srank, merchant_id
        FROM _m WHERE ps_scen IS NOT NULL""",
        """CREATE OR REPLACE TEMP TABLE _psn AS SELECT scen, count(*) AS n FROM _psm GROUP BY ALL""",
    ]
    del n_ind
    return stmts


def _live_scale(p: Params) -> float:
    """Multiplier of sqrt(size_weight) giving ~300 merchant lives a day at scale 1."""
    m = p.n_merchants
    r0 = p.zipf_r0
    total = 0.0
    step = max(1, m // 20000)
    for r in range(1, m + 1, step):
        q = math.log(r) / math.log(max(m, 2))
        sw = (r0 + 1) / (r + r0)
        total += max(0.0, 0.65 - 0.5 * q) * math.sqrt(sw) * step
    want = 300.0 * m / 100_000
    return want / total if total else 0.0


# --------------------------------------------------------------------------------------------
# Minutes, days and slots
# --------------------------------------------------------------------------------------------


def minutes_sql(first_us: int, n_minutes: int, lo_us: int, hi_us: int, zone: str) -> str:
    """Temp table _min: every minute of the whole local days that cover [lo, hi), with its local
    day D, local hour h, ISO day of week and whether it lies in [lo, hi)."""
    z = zone.replace("'", "''")
    return f"""CREATE OR REPLACE TEMP TABLE _min AS
    SELECT m_us, datediff('day', DATE '{model.DAY_EPOCH.isoformat()}', lt::DATE)::BIGINT AS D,
           hour(lt) + minute(lt) / 60.0 AS h, isodow(lt) AS dow,
           m_us >= {lo_us} AND m_us < {hi_us} AS inr
    FROM (SELECT m_us, timezone('{z}', make_timestamptz(m_us)) AS lt
          FROM (SELECT {first_us} + i * {US_PER_MIN} AS m_us FROM range({n_minutes}) t(i)))
    ORDER BY m_us"""


def day_zero_sql(days: list[tuple[int, int]]) -> str:
    """Temp table _dz: local day number D -> its local midnight as UTC microseconds."""
    values = ", ".join(f"({d}, {us})" for d, us in days)
    return f"CREATE OR REPLACE TEMP TABLE _dz AS SELECT D::BIGINT AS D, d0_us::BIGINT AS d0_us FROM (VALUES {values}) v(D, d0_us) ORDER BY D"


def days_sql(p: Params) -> str:
    """Temp table _days: D -> dau (distinct active users of that local day)."""
    app = EVENTS["app_sessions"]
    return f"""CREATE OR REPLACE TEMP TABLE _days AS
    SELECT D, greatest(1, round({p.n_users} * {model.DAU_SHARE} * (CASE WHEN any_value(dow) >= 6 THEN {app.weekend} ELSE 1 END)
                  * (0.97 + 0.06 * ru(D, {app.salt} + 1000))))::BIGINT AS dau
    FROM _min GROUP BY D ORDER BY D"""


def _lam(p: Params, table: str, growth_end_day: int | None, rate_factor: float) -> str:
    spec = EVENTS[table]
    base = spec.per_day * p.scale * rate_factor / 1440.0
    g = ""
    if table == "mp_visits" and growth_end_day is not None:
        g = f" * exp({model.MP_GROWTH_PER_DAY} * least(0, D - {growth_end_day}))"
    return (
        f"{base!r}::DOUBLE * {model.curve_sql(spec.curve)} * (CASE WHEN dow >= 6 THEN {spec.weekend} ELSE 1 END)"
        f" * (0.97 + 0.06 * ru(D, {spec.salt} + 1000)) * (0.85 + 0.3 * ru(m_us, {spec.salt})){g}"
    )


def live_sessions_sql(dims: Dims, d_lo: int, d_hi: int) -> str:
    """Temp table _live: the live sessions that start on local days [d_lo, d_hi] (_dz must cover
    them). live_id = D * channels + channel_id: a pure function of the schedule."""
    k = "(z.D * 1000003 + c.channel_id)"
    return f"""CREATE OR REPLACE TEMP TABLE _live AS
    SELECT live_id, channel_id, merchant_id, start_us, start_us + dur_min * {US_PER_MIN} AS end_us, peak
    FROM (
      SELECT z.D * {dims.n_chan} + c.channel_id AS live_id, c.channel_id, c.merchant_id,
             z.d0_us + (CASE WHEN ru({k}, 91) < 0.7 THEN 19.0 + 3.0 * ru({k}, 92)
                             ELSE 10.0 + 4.0 * ru({k}, 92) END * 3600000000)::BIGINT AS start_us,
             (60 + 180 * ru({k}, 93))::BIGINT AS dur_min,
             greatest(3, round(exp(2.3 + 1.1 * rn({k}, 94)) * (1 + 30 * c.size_weight)))::INTEGER AS peak
      FROM _chan c, _dz z
      WHERE z.D BETWEEN {d_lo} AND {d_hi} AND ru({k}, 90) < c.p_live
    ) ORDER BY start_us, live_id"""


LIVE_BLOCK_US = 5 * US_PER_MIN


def slots_sql(
    p: Params,
    table: str,
    growth_end_day: int | None,
    rate_factor: float,
    hi_us: int | None = None,
) -> str:
    """Temp table _s_<table>: per minute (and, for transactions and channel views, per live
    session on air per 5-minute block) the number of rows `cnt` spread over `dur_us` from `m_us`,
    the within-day index of its first row `kd0`, the day's total `e` and the day's constants.
    With `hi_us` (the history's end), a live block that ends after it is left out of the history
    (its events belong to the live stream), so that no event lies after the end and the process
    stays the same as the live stream's."""
    lam = _lam(p, table, growth_end_day, rate_factor)
    salt = EVENTS[table].salt * 10
    live = ""
    if table in ("transactions", "channel_views"):
        per_view = 1.0 if table == "channel_views" else model.LIVE_TX_PER_VIEW
        mid = f"(n.m_us + {LIVE_BLOCK_US // 2})"
        shape = (
            f"(0.4 + 0.6 * sin(3.141592653589793 * ({mid} - l.start_us) / (l.end_us - l.start_us)))"
        )
        live = f"""
        UNION ALL
        SELECT n.m_us, n.D, n.inr AND n.m_us + {LIVE_BLOCK_US} <= {hi_us if hi_us is not None else 2**62} AS inr,
               l.live_id AS sub, l.merchant_id AS l_merchant, l.channel_id AS l_channel,
               l.start_us AS l_start, l.end_us AS l_end,
               {rate_factor * 5!r}::DOUBLE * {per_view!r} * {model.LIVE_VIEW_RATE!r} * l.peak * greatest(0.05, {shape})
                 * (0.7 + 0.6 * ru(n.m_us + l.live_id, {EVENTS[table].salt} + 2000)) AS lam
        FROM (SELECT *, unnest(range(start_us // {LIVE_BLOCK_US} * {LIVE_BLOCK_US}, end_us, {LIVE_BLOCK_US})) AS lm_us
              FROM _live {"WHERE merchant_id IS NOT NULL" if table == "transactions" else ""}) l
        JOIN _min n ON n.m_us = l.lm_us"""
    # a live block's events lie within both the block and the live session
    return f"""CREATE OR REPLACE TEMP TABLE _s_{table} AS
    WITH l AS (
      SELECT m_us, D, inr, 0::BIGINT AS sub, NULL::BIGINT AS l_merchant, NULL::BIGINT AS l_channel,
             NULL::BIGINT AS l_start, NULL::BIGINT AS l_end, {lam} AS lam FROM _min
      {live}
    ), c AS (
      SELECT *, floor(sum(lam) OVER (PARTITION BY D ORDER BY m_us, sub ROWS UNBOUNDED PRECEDING))::BIGINT AS cum FROM l
    ), d AS (
      SELECT *, cum - coalesce(lag(cum) OVER (PARTITION BY D ORDER BY m_us, sub), 0) AS cnt,
             max(cum) OVER (PARTITION BY D) AS e
      FROM c
    )
    SELECT m_us, CASE WHEN sub = 0 THEN m_us ELSE greatest(m_us, l_start) END AS t0_us,
           CASE WHEN sub = 0 THEN {US_PER_MIN}
                ELSE greatest(1, least(m_us + {LIVE_BLOCK_US}, l_end) - greatest(m_us, l_start)) END AS dur_us,
           D, inr, sub, l_merchant, l_channel, cnt, cum - cnt AS kd0, e, y.dau,
           greatest(1, round({POOL_RATIO.get(table, 1.0)} * y.dau))::BIGINT AS rr,
           hb(D, {salt}) % e AS c1, hb(D, {salt} + 1) % y.dau AS c2, hb(D, {salt} + 2) % y.dau AS c3,
           hb(D, 77) % {p.pool} AS cp,
           sum(CASE WHEN inr THEN cnt ELSE 0 END) OVER (ORDER BY m_us, sub ROWS UNBOUNDED PRECEDING)
             - CASE WHEN inr THEN cnt ELSE 0 END AS g0
    FROM d JOIN _days y USING (D) WHERE cnt > 0 ORDER BY m_us, sub"""


def rows_cte(table: str, where: str, window: tuple[int, int] | None = None) -> str:
    """The common head of every slot-generated table: one row per event with its key and time.

    Columns: D, m_us, kd (index within the local day), e (rows that day), dau, rr (distinct users
    of the pillar that day), k, g (0-based global index in the slot table), sub (live_id or 0),
    l_merchant, l_channel, key, ts_us. Slots are split into chunks of CHUNK rows first: DuckDB
    scans a table in parallel by row groups, and the slot table alone is too small to be split.
    With `window` (lo_us, hi_us) only the rows of each slot that can fall in it are made (row k
    lies in [t0 + k dur / cnt, t0 + (k + 1) dur / cnt)), so a second of a busy minute costs a
    second's rows; the rows made are the same as without it."""
    if window is None:
        k_lo, k_hi = "0", "cnt"
    else:
        lo, hi = window
        k_lo = f"greatest(0, floor(({lo} - t0_us)::DOUBLE * cnt / dur_us)::BIGINT - 1)"
        k_hi = f"least(cnt, ceil(({hi} - t0_us)::DOUBLE * cnt / dur_us)::BIGINT + 1)"
    return f"""r0 AS (
      SELECT D, m_us, t0_us, dur_us, kd0 + k AS kd, e, cnt, k, g0 + k AS g, sub, l_merchant, l_channel, dau, rr, c1, c2, c3, cp
      FROM (SELECT *, unnest(range(k0, least(k0 + {CHUNK}, k_hi))) AS k
            FROM (SELECT *, unnest(range(k_lo, k_hi, {CHUNK})) AS k0
                  FROM (SELECT *, {k_lo} AS k_lo, {k_hi} AS k_hi FROM _s_{table} WHERE {where})))
    ), r AS (
      SELECT *, D * 1000000000 + kd AS key,
             t0_us + floor((k + ru(D * 1000000000 + kd, {EVENTS[table].salt})) * dur_us / cnt)::BIGINT AS ts_us
      FROM r0
    )"""


def _pool(table: str) -> str:
    """SQL for the pool user of each row of `r0`: a CTE `a` with column user_id.

    With a REPEAT_SHARE q, the day's events kd are folded onto fewer visits v = floor(kd * f),
    f = max(1 - q, rr / e) (so that there are still at least rr visits and every one of the day's
    rr users is drawn as before): about q of the events share the user of the event just before."""
    q = REPEAT_SHARE.get(table, 0.0)
    if q <= 0:
        return (
            "a0 AS (SELECT *, poolidx(kd, e, rr, dau, c1, c2) AS ai FROM r)"
            ", a AS (SELECT *, uact(ai, cp) AS user_id FROM a0)"
        )
    f = f"least(1.0, greatest({1.0 - q!r}, rr::DOUBLE / e))"
    return (
        f"a0 AS (SELECT *, poolidx(floor(kd * {f})::BIGINT, floor((e - 1) * {f})::BIGINT + 1, "
        "rr, dau, c1, c2) AS ai FROM r)"
        ", a AS (SELECT *, uact(ai, cp) AS user_id FROM a0)"
    )


def _zipf(p: Params, u: str, n: int) -> str:
    """SQL: Zipf rank in 1..n (alpha 1, offset r0) from a uniform u, for a constant n."""
    r0 = p.zipf_r0
    n = max(1, int(n))
    return f"least({n}, (floor({r0} * exp({u} * {math.log((n + r0) / r0)!r}) - {r0}))::BIGINT + 1)"


def _fav_or_zipf(p: Params, user: str, key: str, p_fav: float, salt: int) -> str:
    return (
        f"(CASE WHEN ru({key}, {salt}) < {p_fav} THEN fav({user}, (hb({key}, {salt + 1}) % {model.FAVOURITES})) "
        f"ELSE mid({_zipf(p, f'ru({key}, {salt + 2})', p.n_merchants)}) END)"
    )


@dataclass(frozen=True)
class Dims:
    """Counts of the dimension tables (pure functions of scale and seed)."""

    n_acct_m: int  # Official Accounts of merchants (ids 1..n_acct_m), then media accounts
    n_acct: int
    n_mp: int
    n_corp_m: int  # WeCom enterprises of merchants, then others
    n_corp: int
    n_chan_m: int  # Channels of merchants, then creators
    n_chan: int
    n_groups_c: int  # customer groups (ids 1..n_groups_c), then chat groups
    n_groups: int


DIMS_SQL = """SELECT
  (SELECT count(*) FROM _m WHERE has_oa), (SELECT count(*) FROM _acct), (SELECT count(*) FROM _mp),
  (SELECT count(*) FROM _m WHERE has_corp), (SELECT count(*) FROM _corp),
  (SELECT count(*) FROM _m WHERE has_ch), (SELECT count(*) FROM _chan),
  (SELECT count(*) FROM _grp WHERE kind = 'customer'), (SELECT count(*) FROM _grp)"""


def articles_sql(p: Params, dims: Dims, d_lo: int, d_hi: int) -> str:
    """SELECT of the oa_articles rows published on local days [d_lo, d_hi] (by schedule).

    Account a publishes every `per` days (days with (D + o) % per = 0) at a fixed local hour;
    article_id = D * accounts + account_id."""
    return f"""SELECT z.D * {dims.n_acct} + x.account_id AS article_id, x.account_id,
           make_timestamptz(z.d0_us + (x.pub_h * 3600000000)::BIGINT) AS published_at,
           greatest(1, round(x.followers * (0.9 + 0.1 * ru(z.D * {dims.n_acct} + x.account_id, 57))))::INTEGER AS recipients,
           {_str_list(model.ARTICLE_CN)}[{_pick(f"ru(z.D * {dims.n_acct} + x.account_id, 58)", len(model.ARTICLE_CN))}]
             || ' 第' || (z.D % 1000)::VARCHAR || '期' AS title
    FROM _acct x, _dz z
    WHERE z.D BETWEEN {d_lo} AND {d_hi} AND (z.D + hb(x.account_id, 56) % x.per) % x.per = 0"""


def posts_sql(p: Params, dims: Dims, d_lo: int, d_hi: int) -> str:
    """SELECT of the channel_posts rows of local days [d_lo, d_hi]; post_id = D * channels + channel_id."""
    return f"""SELECT z.D * {dims.n_chan} + c.channel_id AS post_id, c.channel_id,
           make_timestamptz(z.d0_us + (c.post_h * 3600000000)::BIGINT) AS ts,
           (5 + round(exp(3.8 + 0.7 * rn(z.D * {dims.n_chan} + c.channel_id, 75))))::INTEGER AS duration_s
    FROM _chan c, _dz z
    WHERE z.D BETWEEN {d_lo} AND {d_hi} AND (z.D + hb(c.channel_id, 74) % c.period) % c.period = 0"""


def event_selects(p: Params, dims: Dims, growth_end_day: int | None) -> dict[str, str]:
    """For each slot-generated table, the tail of a query after `rows_cte`: a SELECT of the table's
    columns. Placeholders: {id} (event id expression), and for transactions and payscore_orders
    {now_us} (rows keep only outcomes that happened before it; None = keep all)."""
    g_mp = (
        f"exp({model.MP_GROWTH_PER_DAY} * least(0, D - {growth_end_day}))"
        if growth_end_day is not None
        else "1.0"
    )
    fs_case = " ".join(
        f"WHEN ru(key, 173) < {c} THEN '{s}'"
        for s, c in zip(model.FOLLOW_SOURCES, model.FOLLOW_SOURCE_CUM, strict=True)
    )
    acc = 0.0
    scen_parts = []
    for i, sc in enumerate(SCENARIOS, start=1):
        acc += sc[1]
        scen_parts.append(f"WHEN ru(key, 161) < {acc!r} THEN {i}")
    scen_case = " ".join(scen_parts)
    scen_names = _str_list([sc[0] for sc in SCENARIOS])
    s_mu = _num_list([math.log(sc[3]) - sc[4] ** 2 / 2 for sc in SCENARIOS])
    s_sig = _num_list([sc[4] for sc in SCENARIOS])
    s_dep = _num_list([sc[5] for sc in SCENARIOS])
    s_dmu = _num_list([sc[6] for sc in SCENARIOS])
    s_dsig = _num_list([sc[7] for sc in SCENARIOS])
    s_d0 = _num_list([sc[8] for sc in SCENARIOS])
    s_bad = _num_list([sc[9] for sc in SCENARIOS])
    media = f"{dims.n_acct_m} + " + _zipf(p, "ru(key, {salt})", dims.n_acct - dims.n_acct_m)
    out: dict[str, str] = {}

    out["app_sessions"] = f"""
    , a AS (SELECT *, (kd * {PBIG} + c1) % e AS pp FROM r)
    , b AS (SELECT *, pp < dau AS prim, uact(pp % dau, cp) AS user_id,
                   ((pp % dau) * {PBIG} + c2) % dau AS vrank,
                   ((pp % dau) * {PBIG} + c3) % dau AS mrank
            FROM a)
    SELECT make_timestamptz(ts_us) AS ts, user_id,
      (CASE WHEN prim THEN 1 + floor(exp(1.8 + 0.8 * rn(key, 114))) ELSE 1 + floor(2 * ru(key, 114)) END)::INTEGER AS opens,
      (CASE WHEN prim THEN floor(exp(2.8 + 1.0 * rn(key, 115))) ELSE floor(exp(1.0 + 1.0 * rn(key, 115))) END)::INTEGER AS messages,
      CASE WHEN prim AND vrank < round({model.VIDEO_SHARE} * dau) THEN round(0.2 + exp(1.6 + 0.9 * rn(key, 116)), 1) ELSE 0.0 END AS video_call_minutes,
      (CASE WHEN prim AND mrank < round({model.MOMENTS_VIEW_SHARE} * dau) THEN 1 + floor(exp(2.3 + 0.9 * rn(key, 117))) ELSE 0 END)::INTEGER AS moments_views,
      (CASE WHEN prim AND mrank < round({model.MOMENTS_VIEW_SHARE * model.MOMENTS_POST_SHARE} * dau)
            THEN 1 + (ru(key, 118) < 0.3)::INTEGER ELSE 0 END)::INTEGER AS moments_posts
    FROM b"""

    out["oa_reads"] = f"""
    , {_pool("oa_reads")}
    , b AS (SELECT a.*, coalesce(m.account_id, {media.format(salt=124)}) AS account_id
            FROM a LEFT JOIN _m m ON m.merchant_id = CASE WHEN ru(key, 120) < 0.6 THEN {_fav_or_zipf(p, "user_id", "key", 0.8, 121)} END)
    , c AS (SELECT b.*, x.pub_h, x.per, z.d0_us FROM b JOIN _acct x USING (account_id) JOIN _dz z USING (D))
    , d AS (SELECT *, CASE WHEN (ts_us - d0_us) / 3600000000.0 >= pub_h THEN D ELSE D - 1 END AS de FROM c)
    SELECT make_timestamptz(ts_us) AS ts,
           (de - (de + hb(account_id, 56) % per) % per) * {dims.n_acct} + account_id AS article_id,
           account_id, user_id, ru(key, 125) < 0.06 AS shared
    FROM d"""

    out["mp_visits"] = f"""
    , {_pool("mp_visits")}
    , b AS (SELECT a.*, coalesce(m.mp_id, {_zipf(p, "ru(key, 134)", dims.n_mp)}) AS mp_id
            FROM a LEFT JOIN _m m ON m.merchant_id = {_fav_or_zipf(p, "user_id", "key", 0.75, 131)})
    SELECT make_timestamptz(ts_us) AS ts, b.mp_id, x.merchant_id, user_id,
           (1 + floor(exp(0.8 + 0.7 * rn(key, 135))))::INTEGER AS pages,
           (5 + round(exp(4.0 + 0.9 * rn(key, 136))))::INTEGER AS stay_s
    FROM b JOIN _mp x USING (mp_id)"""

    out["transactions"] = f"""
    , {_pool("transactions")}
    , b AS (SELECT a.*, CASE WHEN sub <> 0 THEN l_merchant ELSE {_fav_or_zipf(p, "user_id", "key", 0.65, 141)} END AS merchant_id FROM a)
    , c AS (SELECT b.*, m.mu, m.sig, m.lift,
                   CASE WHEN sub <> 0 THEN 'channels_live'
                        WHEN m.has_mp AND ru(key, 144) < 0.33 * {g_mp} THEN 'mini_program'
                        WHEN ru(key, 145) < 0.58 THEN 'qr'
                        WHEN ru(key, 145) < 0.80 THEN 'in_app'
                        ELSE 'face' END AS entry,
                   ru(key, 146) AS us,
                   ts_us + (3600000000 * exp(1.0 + 1.5 * rn(key, 148)))::BIGINT AS refund_us
            FROM b JOIN _m m USING (merchant_id))
    SELECT {{id}} AS tx_id, make_timestamptz(ts_us) AS ts, user_id, merchant_id,
           greatest(0.01, round(exp(mu + sig * rn(key, 147))
                 * CASE WHEN entry = 'mini_program' THEN lift ELSE 1.0 END, 2))::DECIMAL(18, 2) AS amount,
           entry,
           CASE WHEN us < 0.005 THEN 'failed' WHEN us < 0.025 AND refund_us < {{now_us}} THEN 'refunded' ELSE 'success' END AS status,
           CASE WHEN us >= 0.005 AND us < 0.025 AND refund_us < {{now_us}} THEN make_timestamptz(refund_us) END AS refunded_at,
           CASE WHEN sub <> 0 THEN sub END AS live_id
    FROM c"""

    out["channel_views"] = f"""
    , {_pool("channel_views")}
    , b AS (SELECT a.*, CASE WHEN sub <> 0 THEN l_channel
                             ELSE coalesce(m.channel_id, {dims.n_chan_m} + {_zipf(p, "ru(key, 154)", dims.n_chan - dims.n_chan_m)}) END AS channel_id
            FROM a LEFT JOIN _m m ON m.merchant_id = CASE WHEN sub = 0 AND ru(key, 150) < 0.5 THEN {_fav_or_zipf(p, "user_id", "key", 0.7, 151)} END)
    , c AS (SELECT b.*, x.period, x.post_h, z.d0_us FROM b JOIN _chan x USING (channel_id) JOIN _dz z USING (D))
    , d AS (SELECT *, CASE WHEN (ts_us - d0_us) / 3600000000.0 >= post_h THEN D ELSE D - 1 END AS de FROM c)
    , e2 AS (SELECT *, (de - (de + hb(channel_id, 74) % period) % period) * {dims.n_chan} + channel_id AS pid FROM d)
    SELECT make_timestamptz(ts_us) AS ts, user_id, channel_id,
           CASE WHEN sub = 0 THEN pid END AS post_id, CASE WHEN sub <> 0 THEN sub END AS live_id,
           greatest(1, round(CASE WHEN sub <> 0 THEN 30 + exp(4.5 + 1.0 * rn(key, 155))
                                  ELSE (5 + round(exp(3.8 + 0.7 * rn(pid, 75)))) * least(1.0, 1.4 * ru(key, 156)) END))::INTEGER AS watch_s,
           CASE WHEN sub <> 0 THEN ru(key, 157) < 0.1 ELSE ru(key, 156) * 1.4 >= 0.95 END AS completed
    FROM e2"""

    out["payscore_orders"] = f"""
    , {_pool("payscore_orders")}
    , b AS (SELECT a.*, n.n FROM (SELECT *, CASE {scen_case} ELSE {len(SCENARIOS)} END AS scen FROM a) a JOIN _psn n USING (scen))
    , c AS (SELECT b.*, pm.merchant_id FROM b JOIN _psm pm ON pm.scen = b.scen AND pm.srank = zipf(ru(key, 162), b.n))
    , d AS (SELECT *, ts_us + (exp({s_dmu}[scen] + {s_dsig}[scen] * rn(key, 163)) * {US_PER_MIN})::BIGINT AS done_us,
                   ru(key, 164) AS us, ru(key, 165) AS uc
            FROM c)
    , e2 AS (SELECT *, CASE WHEN us < 0.02 THEN 'revoked' WHEN us < 0.03 THEN 'expired' ELSE 'done' END AS st0,
                    CASE WHEN uc < {s_d0}[scen] THEN done_us + (60000000 * (1 + 600 * ru(key, 166)))::BIGINT
                         WHEN uc < 1 - {s_bad}[scen] THEN done_us + (86400000000 * (1 + floor(ln(1 - ru(key, 167)) / ln(0.8))))::BIGINT
                    END AS paid_us
             FROM d)
    SELECT {{id}} AS order_id, make_timestamptz(ts_us) AS ts, user_id, merchant_id, {scen_names}[scen] AS scenario,
           CASE WHEN st0 <> 'done' THEN st0 WHEN done_us < {{now_us}} THEN 'done' ELSE 'doing' END AS state,
           {s_dep}[scen]::DECIMAL(18, 2) AS deposit_waived,
           greatest(0.01, round(exp({s_mu}[scen] + {s_sig}[scen] * rn(key, 168)), 2))::DECIMAL(18, 2) AS amount,
           CASE WHEN st0 = 'done' AND done_us < {{now_us}} THEN make_timestamptz(done_us) END AS completed_at,
           CASE WHEN st0 = 'done' AND done_us < {{now_us}} AND paid_us < {{now_us}} THEN make_timestamptz(paid_us) END AS paid_at
    FROM e2"""

    out["oa_follows"] = f"""
    , {_pool("oa_follows")}
    , b AS (SELECT a.*, coalesce(m.account_id, {media.format(salt=172)}) AS account_id
            FROM a LEFT JOIN _m m ON m.merchant_id = CASE WHEN ru(key, 170) < 0.6 THEN {_fav_or_zipf(p, "user_id", "key", 0.8, 175)} END)
    SELECT make_timestamptz(ts_us) AS ts, account_id, user_id,
           CASE WHEN ru(key, 171) < 0.72 THEN 'follow' ELSE 'unfollow' END AS action,
           CASE {fs_case} ELSE 'other' END AS source
    FROM b"""

    out["wecom_contacts_removed"] = f"""
    , {_pool("wecom_contacts_removed")}
    , b AS (SELECT a.*, m.corp_id, m.merchant_id, m.staff FROM a JOIN _m m
              ON m.merchant_id = fav(user_id, (hb(key, 181) % {model.FAVOURITES})) WHERE m.has_corp)
    SELECT make_timestamptz(ts_us) AS ts, corp_id, merchant_id,
           corp_id * 100000 + (hb(user_id * 2000003 + merchant_id, 182) % staff) AS staff_id,
           user_id, 'remove' AS action
    FROM b"""

    out["group_members_left"] = f"""
    , {_pool("group_members_left")}
    , b AS (SELECT a.*, m.first_gid + (hb(user_id * 2000003 + m.merchant_id, 191) % m.ngroups) AS group_id FROM a JOIN _m m
              ON m.merchant_id = fav(user_id, (hb(key, 192) % {model.FAVOURITES})) WHERE m.has_corp)
    SELECT make_timestamptz(ts_us) AS ts, group_id, user_id, 'leave' AS action FROM b"""

    ncm = max(1, dims.n_corp_m)
    nco = max(1, dims.n_corp - dims.n_corp_m)
    out["wecom_messages"] = f"""
    , a AS (SELECT r.*, c.corp_id, c.ngroups, c.first_gid
            FROM r JOIN _corp c ON c.corp_id = CASE WHEN ru(key, 201) < 0.9 THEN {_zipf(p, "ru(key, 202)", ncm)}
                                                   ELSE {dims.n_corp_m} + 1 + floor(ru(key, 203) * {nco})::BIGINT END)
    , b AS (SELECT a.*, CASE WHEN ngroups > 0 AND ru(key, 204) < 0.6 THEN first_gid + (hb(key, 205) % ngroups) END AS group_id FROM a)
    , c AS (SELECT b.*, coalesce(g.base, greatest(1, round(exp(4.0 + 1.2 * rn(key, 206))))::INTEGER) AS targeted
            FROM b LEFT JOIN _grp g USING (group_id))
    SELECT make_timestamptz(ts_us) AS ts, corp_id, group_id, targeted,
           round(targeted * (0.93 + 0.06 * ru(key, 207)))::INTEGER AS delivered,
           round(round(targeted * (0.93 + 0.06 * ru(key, 207))) * (0.03 + 0.12 * ru(key, 208)))::INTEGER AS clicked
    FROM c"""
    return out


def derived_selects(p: Params, src: str) -> dict[str, str]:
    """Events that follow a paid transaction within the same minute: the member enrolment, the
    WeCom staff adding the customer, and the customer joining one of the merchant's groups.

    `src` is a relation with the transactions columns plus `_key`. Each result has `_key` (the
    deriving transaction's key) so callers can de-duplicate."""
    mc = " ".join(
        f"WHEN ru(_key, 211) < {c} THEN '{n}'"
        for n, c in zip(model.MEMBER_CHANNELS, model.MEMBER_CHANNEL_CUM, strict=True)
    )
    rest = "(60000000 - epoch_us(ts) % 60000000)"
    return {
        "memberships": f"""
        SELECT merchant_id, user_id, make_timestamptz(epoch_us(ts) + ({rest} * 0.2)::BIGINT) AS enrolled_at,
               CASE {mc} ELSE 'channels' END AS channel,
               CASE WHEN ru(_key, 211) < {model.MEMBER_CHANNEL_CUM[0]} THEN tx_id END AS tx_id, _key
        FROM {src} WHERE status <> 'failed' AND ru(_key, 210) < {model.P_MEMBER}""",
        "wecom_contacts": f"""
        SELECT make_timestamptz(epoch_us(t.ts) + ({rest.replace("ts", "t.ts")} * 0.5)::BIGINT) AS ts, m.corp_id, t.merchant_id,
               m.corp_id * 100000 + (hb(t.user_id * 2000003 + t.merchant_id, 182) % m.staff) AS staff_id,
               t.user_id, 'add' AS action, t._key
        FROM {src} t JOIN _m m USING (merchant_id)
        WHERE m.has_corp AND t.status <> 'failed' AND ru(t._key, 220) < {model.P_CONTACT}""",
        "group_members": f"""
        SELECT make_timestamptz(epoch_us(t.ts) + ({rest.replace("ts", "t.ts")} * 0.8)::BIGINT) AS ts,
               m.first_gid + (hb(t.user_id * 2000003 + m.merchant_id, 191) % m.ngroups) AS group_id,
               t.user_id, 'join' AS action, t._key
        FROM {src} t JOIN _m m USING (merchant_id)
        WHERE m.has_corp AND t.status <> 'failed' AND ru(t._key, 220) < {model.P_CONTACT}
          AND ru(t._key, 221) < {model.P_GROUP_JOIN}""",
    }
