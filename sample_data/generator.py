"""`generate()`: a deterministic, calibrated history of the ecosystem, written into a new ecotop file.

All rows are computed inside DuckDB from `range()` with hash-derived randomness (see sample_data.sql)
and inserted in time order, so the file's zone maps make window queries fast. Same scale, seed, days
and end give the same file contents.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ecotop import store
from ecotop.sample_data import model, sql
from ecotop.sample_data.model import INDUSTRIES, Params
from ecotop.store import bulk, rollups
from ecotop.store.ingest import RAW_TABLES

Progress = Callable[[str, float], None]

# The generator's DuckDB memory limit unless ECOTOP_MEMORY_LIMIT says otherwise: it sorts every
# event table by time, which spills to the temp directory beyond the limit.
GENERATE_MEMORY_DEFAULT = "2500MB"


# Rough share of the run each stage takes (for the progress callback).
_STAGES: tuple[tuple[str, float], ...] = (
    ("dimensions", 0.04),
    ("app_sessions", 0.16),
    ("oa_reads", 0.06),
    ("mp_visits", 0.08),
    ("transactions", 0.26),
    ("channel_views", 0.06),
    ("payscore_orders", 0.02),
    ("small tables", 0.04),
    ("loop events", 0.04),
    ("rollups", 0.16),
    ("keys", 0.06),
    ("checkpoint", 0.02),
)


def _us(t: datetime) -> int:
    return round(t.timestamp() * 1_000_000)


def local_midnight_us(day: int, zone: ZoneInfo) -> int:
    """UTC microseconds of the local midnight starting local day number `day`."""
    d = model.DAY_EPOCH + timedelta(days=day)
    return _us(datetime(d.year, d.month, d.day, tzinfo=zone))


def local_day(us: int, zone: ZoneInfo) -> int:
    t = datetime.fromtimestamp(us / 1_000_000, tz=UTC).astimezone(zone)
    return model.day_number(t.date())


def resolve_end(end: datetime | None, zone: ZoneInfo) -> datetime:
    """The history's end instant: `end` (naive = display zone) or now, truncated to the minute."""
    if end is None:
        end = datetime.now(UTC)
    elif end.tzinfo is None:
        end = end.replace(tzinfo=zone)
    return end.astimezone(UTC).replace(second=0, microsecond=0)


class _Timed:
    """Prints every statement's seconds on stderr (ECOTOP_GENERATE_TRACE=1)."""

    def __init__(self, con: Any) -> None:
        self.con = con

    def execute(self, q: str, *args: Any) -> Any:
        import resource

        def cpu() -> float:
            ru = resource.getrusage(resource.RUSAGE_SELF)
            return ru.ru_utime + ru.ru_stime

        t, c = time.perf_counter(), cpu()
        r = self.con.execute(q, *args)
        line = " ".join(q.split())[:90]
        print(f"{time.perf_counter() - t:7.2f}s {cpu() - c:7.2f}cpu {line}", file=sys.stderr)
        return r

    def __getattr__(self, name: str) -> Any:
        return getattr(self.con, name)


class _Progress:
    def __init__(self, cb: Progress | None) -> None:
        self.cb = cb
        self.done = 0.0
        self.weights = dict(_STAGES)

    def stage(self, name: str) -> None:
        if self.cb:
            self.cb(name, min(1.0, self.done))
        self.done += self.weights.get(name, 0.0)

    def finish(self) -> None:
        if self.cb:
            self.cb("done", 1.0)


def _one_line(exc: BaseException, scale: float, limits: store.Limits) -> BaseException:
    """Running out of memory as one line a user can act on; anything else as it was."""
    if bulk.is_out_of_memory(exc):
        return store.errors.BadInput(
            f"scale {scale:g} needs more memory than the limit of {limits.memory_limit} "
            "(set ECOTOP_MEMORY_LIMIT higher, or generate a smaller --scale or fewer --days)"
        )
    return exc


def setup(con: Any, p: Params) -> sql.Dims:
    """Macros and dimension temp tables on `con`; returns their counts."""
    for stmt in [*sql.macros(p), *sql.dimension_sql(p)]:
        con.execute(stmt).fetchall()
    return sql.Dims(*con.execute(sql.DIMS_SQL).fetchall()[0])


def prepare_time(
    con: Any, lo_us: int, hi_us: int, zone: ZoneInfo, zone_name: str
) -> tuple[int, int]:
    """_dz, _min over the local days covering [lo, hi); returns (first local day, last local day)."""
    d_lo = local_day(lo_us, zone)
    d_hi = local_day(hi_us - 1, zone)
    days = [(d, local_midnight_us(d, zone)) for d in range(d_lo - 31, d_hi + 2)]
    con.execute(sql.day_zero_sql(days))
    first = local_midnight_us(d_lo, zone)
    last = local_midnight_us(d_hi + 1, zone)
    con.execute(sql.minutes_sql(first, (last - first) // sql.US_PER_MIN, lo_us, hi_us, zone_name))
    return d_lo, d_hi


def generate(
    path: str | Path,
    *,
    scale: float = 1.0,
    seed: int = 0,
    days: int = 60,
    end: datetime | None = None,
    display_zone: str = "Asia/Shanghai",
    progress: Progress | None = None,
    overwrite: bool = False,
    limits: store.Limits | None = None,
) -> dict[str, Any]:
    """Create `path` and fill it with `days` days of history ending at `end`; returns a summary
    {"path", "rows": {table: n}, "total_rows", "seconds", "scale", "seed", "days", "end"}."""
    t_start = time.perf_counter()
    if not (scale > 0) or scale > 1000:
        raise store.errors.BadInput(f"scale must be a number above 0 (up to 1000), not {scale!r}")
    if int(days) != days or days < 1 or days > 3650:
        raise store.errors.BadInput(f"days must be a whole number from 1 to 3650, not {days!r}")
    try:
        zone = ZoneInfo(display_zone)
    except Exception:
        raise store.errors.BadInput(f"unknown time zone {display_zone!r}") from None
    end_t = resolve_end(end, zone)
    hi_us = _us(end_t)
    lo_us = hi_us - int(days) * 86_400_000_000
    p = Params(float(scale), int(seed))
    prog = _Progress(progress)
    if limits is None:
        # ECOTOP_MEMORY_LIMIT when set, else a generous default for a generator (it is alone)
        limits = store.Limits(
            memory_limit=os.environ.get("ECOTOP_MEMORY_LIMIT") or GENERATE_MEMORY_DEFAULT
        )
    final = Path(path)
    if final.exists() and not overwrite:
        raise store.errors.Exists(final)
    # Built under a private temporary directory beside the target, renamed into place at the end:
    # a failed or killed run never leaves a half-written file under the final name.
    work = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    path = work / final.name
    try:
        db = store.create_db(path, limits=limits)
    except BaseException as exc:
        shutil.rmtree(work, ignore_errors=True)
        raise _one_line(exc, scale, limits) from None
    # Any: _Timed stands in for the connection (it forwards everything)
    con: Any = _Timed(db.con) if os.environ.get("ECOTOP_GENERATE_TRACE") else db.con
    try:
        prog.stage("dimensions")
        dims = setup(con, p)
        d_lo, d_hi = prepare_time(con, lo_us, hi_us, zone, display_zone)
        d_end = local_day(hi_us - 1, zone)
        con.execute(sql.days_sql(p))
        con.execute(sql.live_sessions_sql(dims, d_lo - 1, d_hi))
        dropped = bulk.drop_primary_keys(
            con, [t for t in bulk.primary_keys(con) if t in RAW_TABLES]
        )
        _insert_dimensions(con, p, lo_us)

        selects = sql.event_selects(p, dims, d_end)
        for table in (
            "app_sessions",
            "oa_reads",
            "mp_visits",
            "transactions",
            "channel_views",
            "payscore_orders",
            "oa_follows",
            "wecom_messages",
            "wecom_contacts_removed",
            "group_members_left",
        ):
            if table in dict(_STAGES):
                prog.stage(table)
            con.execute(sql.slots_sql(p, table, d_end, 1.0, hi_us))
            body = selects[table].format(id="g + 1", now_us=hi_us)
            q = f"WITH {sql.rows_cte(table, 'inr')} {body}"
            if table in ("wecom_contacts_removed", "group_members_left"):
                con.execute(f"CREATE OR REPLACE TEMP TABLE _x_{table} AS {q}")
            else:
                # every event table in time order: zone maps then prune windowed scans to the
                # window's row groups (unsorted, a 15-minute window read all 60 days)
                con.execute(f"INSERT INTO {table} SELECT * FROM ({q}) ORDER BY ts")
            con.execute(f"DROP TABLE _s_{table}")
            if table == "payscore_orders":
                prog.stage("small tables")

        prog.stage("loop events")
        _insert_loop(con, p, dims, hi_us)
        _insert_schedules(con, p, dims, d_lo, d_hi, lo_us, hi_us)

        n_users = con.execute("SELECT count(*) FROM users").fetchall()[0][0]
        meta = {
            "generated": "true",
            "scale": f"{float(scale):g}",
            "seed": str(int(seed)),
            "days": str(int(days)),
            "generated_until": end_t.isoformat(),
            "display_zone": display_zone,
            "sample_mod": str(rollups.choose_sample_mod(n_users)),
        }
        for k, v in meta.items():
            con.execute("INSERT OR REPLACE INTO ecotop_meta VALUES ($k, $v)", {"k": k, "v": v})

        prog.stage("rollups")
        rollups.rebuild(con)
        prog.stage("keys")
        bulk.add_primary_keys(con, dropped)
        for t in (
            "_m",
            "_mn",
            "_gj",
            "_acct",
            "_mp",
            "_corp",
            "_chan",
            "_grp",
            "_psm",
            "_psn",
            "_min",
            "_dz",
            "_days",
            "_live",
        ):
            con.execute(f"DROP TABLE IF EXISTS {t}")
        prog.stage("checkpoint")
        con.execute("CHECKPOINT")
        rows = {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchall()[0][0] for t in RAW_TABLES}
    except BaseException as exc:
        db.close()
        shutil.rmtree(work, ignore_errors=True)
        raise _one_line(exc, scale, limits) from None
    db.close()
    try:
        if overwrite:
            os.replace(path, final)
        else:
            os.link(path, final)  # fails if the name was taken meanwhile: never replaced silently
    finally:
        shutil.rmtree(work, ignore_errors=True)
    prog.finish()
    return {
        "path": str(final),
        "rows": rows,
        "total_rows": sum(rows.values()),
        "seconds": round(time.perf_counter() - t_start, 2),
        "scale": float(scale),
        "seed": int(seed),
        "days": int(days),
        "end": end_t.isoformat(),
    }


def _ago(lo_us: int, key: str, salt: int, max_days: float, min_days: float = 1.0) -> str:
    """SQL: an instant before the history start, between min_days and max_days earlier."""
    return (
        f"make_timestamptz({lo_us} - ((({min_days} + {max_days - min_days} * pow(ru({key}, {salt}), 2))"
        f" * 86400000000))::BIGINT)"
    )


def merchant_name_sql(key: str, ind: str, city: str) -> str:
    """SQL naming a merchant: Chinese brand·district店 (about 70%; a district of its own city, the
    1-based index `city` into model.CITIES) or a Latin name."""
    dists = [d for c in model.CITIES for d in model.CITY_DISTRICTS[c[1]]]
    d_start, d_len, o = [], [], 0
    for c in model.CITIES:
        n = len(model.CITY_DISTRICTS[c[1]])
        d_start.append(o)
        d_len.append(n)
        o += n
    district = (
        f"{sql._str_list(dists)}[[{','.join(map(str, d_start))}][{city}] + 1 "
        f"+ floor(ru({key}, 505) * [{','.join(map(str, d_len))}][{city}])::BIGINT]"
    )
    cn_words = sql._str_list([w for i in INDUSTRIES for w in i.cn])
    en_words = sql._str_list([w for i in INDUSTRIES for w in i.en])
    cn_off = []
    en_off = []
    a = b = 0
    for i in INDUSTRIES:
        cn_off.append((a, len(i.cn)))
        en_off.append((b, len(i.en)))
        a += len(i.cn)
        b += len(i.en)
    cn_start = "[" + ",".join(str(o) for o, _ in cn_off) + "]"
    cn_len = "[" + ",".join(str(n) for _, n in cn_off) + "]"
    en_start = "[" + ",".join(str(o) for o, _ in en_off) + "]"
    en_len = "[" + ",".join(str(n) for _, n in en_off) + "]"
    pick = sql._pick
    return f"""CASE WHEN ru({key}, 501) < 0.7 THEN
        {sql._str_list(model.CN_PREFIX)}[{pick(f"ru({key}, 502)", len(model.CN_PREFIX))}]
        || {sql._str_list(model.CN_CORE)}[{pick(f"ru({key}, 503)", len(model.CN_CORE))}]
        || {cn_words}[{cn_start}[{ind}] + 1 + floor(ru({key}, 504) * {cn_len}[{ind}])::BIGINT]
        || '·' || {district} || '店'
      ELSE
        {sql._str_list(model.EN_ADJ)}[{pick(f"ru({key}, 506)", len(model.EN_ADJ))}]
        || ' ' || {sql._str_list(model.EN_NOUN)}[{pick(f"ru({key}, 507)", len(model.EN_NOUN))}]
        || ' ' || {en_words}[{en_start}[{ind}] + 1 + floor(ru({key}, 508) * {en_len}[{ind}])::BIGINT]
      END"""


def _insert_dimensions(con: Any, p: Params, lo_us: int) -> None:
    cities = sql._str_list([c[1] for c in model.CITIES])
    provinces = sql._str_list([c[0] for c in model.CITIES])
    city_lut = sql._lut([c[2] for c in model.CITIES])
    ind_keys = sql._str_list([i.key for i in INDUSTRIES])
    mp_cat = sql._str_list([i.mp_category for i in INDUSTRIES])
    con.execute(
        f"""INSERT INTO users
        SELECT u, {_ago(lo_us, "u", 401, 3650)}, {cities}[c], {provinces}[c]
        FROM (SELECT u, {city_lut}[{sql._pick("ru(u, 402)", 1000)}] AS c FROM range(1, {p.n_users + 1}) t(u))"""
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _mn AS
        SELECT merchant_id, {merchant_name_sql("merchant_id", "ind", "city")} AS name, ind, city, size_weight,
               {_ago(lo_us, "merchant_id", 410, 3000, 30)} AS created_at
        FROM _m"""
    )
    con.execute(
        f"""INSERT INTO merchants
        SELECT merchant_id, name, {ind_keys}[ind], {cities}[city], {provinces}[city], size_weight, created_at
        FROM _mn ORDER BY merchant_id"""
    )
    con.execute(
        f"""INSERT INTO official_accounts
        SELECT a.account_id, a.merchant_id,
               CASE WHEN a.merchant_id IS NULL THEN
                 {sql._str_list(model.CREATOR_CN)}[{sql._pick("ru(a.account_id, 420)", len(model.CREATOR_CN))}] || '·' || a.account_id::VARCHAR
               ELSE regexp_replace(n.name, '·.*$', '') END,
               CASE WHEN a.merchant_id IS NULL THEN {_ago(lo_us, "a.account_id", 421, 3000, 10)}
                    ELSE n.created_at + INTERVAL 1 DAY * floor(ru(a.account_id, 422) * 20) END
        FROM _acct a LEFT JOIN _mn n USING (merchant_id) ORDER BY a.account_id"""
    )
    con.execute(
        f"""INSERT INTO mini_programs
        SELECT x.mp_id, x.merchant_id, regexp_replace(n.name, '·.*$', '') || CASE WHEN ru(x.mp_id, 430) < 0.5 THEN '小程序' ELSE ' Mini' END,
               {mp_cat}[x.ind]
        FROM _mp x JOIN _mn n USING (merchant_id) ORDER BY x.mp_id"""
    )
    con.execute(
        f"""INSERT INTO wecom_enterprises
        SELECT c.corp_id, c.merchant_id,
               coalesce(regexp_replace(n.name, '·.*$', ''), 'Enterprise ' || c.corp_id::VARCHAR),
               c.staff, coalesce(n.created_at + INTERVAL 1 DAY * floor(ru(c.corp_id, 440) * 20), {_ago(lo_us, "c.corp_id", 441, 2000, 10)})
        FROM _corp c LEFT JOIN _mn n USING (merchant_id) ORDER BY c.corp_id"""
    )
    con.execute(
        f"""INSERT INTO channels
        SELECT c.channel_id, c.merchant_id,
               coalesce(regexp_replace(n.name, '·.*$', ''),
                        {sql._str_list(model.CREATOR_CN)}[{sql._pick("ru(c.channel_id, 450)", len(model.CREATOR_CN))}] || c.channel_id::VARCHAR),
               c.followers, coalesce(n.created_at + INTERVAL 1 DAY * floor(ru(c.channel_id, 451) * 20), {_ago(lo_us, "c.channel_id", 452, 1500, 10)})
        FROM _chan c LEFT JOIN _mn n USING (merchant_id) ORDER BY c.channel_id"""
    )


def _insert_loop(con: Any, p: Params, dims: sql.Dims, hi_us: int) -> None:
    """Member enrolments, WeCom contacts and customer-group joins that follow payments."""
    # one pass over the payments keeps the few that lead to a loop event (a few percent)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _loop AS
        SELECT * FROM (SELECT *, epoch_us(ts) AS _key FROM transactions WHERE status <> 'failed')
        WHERE ru(_key, 210) < {model.P_MEMBER} OR ru(_key, 220) < {model.P_CONTACT}"""
    )
    d = sql.derived_selects(p, "_loop")
    con.execute(
        f"""INSERT INTO memberships
        SELECT merchant_id, user_id, enrolled_at, channel, tx_id FROM ({d["memberships"]})
        WHERE enrolled_at < make_timestamptz({hi_us})
        QUALIFY row_number() OVER (PARTITION BY merchant_id, user_id ORDER BY enrolled_at) = 1
        ORDER BY enrolled_at"""
    )
    con.execute(
        f"""INSERT INTO wecom_contacts
        SELECT * FROM (
          SELECT ts, corp_id, merchant_id, staff_id, user_id, action FROM ({d["wecom_contacts"]})
          WHERE ts < make_timestamptz({hi_us})
          QUALIFY row_number() OVER (PARTITION BY corp_id, user_id ORDER BY ts) = 1
          UNION ALL SELECT * FROM _x_wecom_contacts_removed
        ) ORDER BY ts"""
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _gj AS
        SELECT j.ts, j.group_id, j.user_id, j.action FROM (
          SELECT *, row_number() OVER (PARTITION BY group_id ORDER BY ts) AS n FROM (
            SELECT ts, group_id, user_id, action FROM ({d["group_members"]})
            WHERE ts < make_timestamptz({hi_us})
            QUALIFY row_number() OVER (PARTITION BY group_id, user_id ORDER BY ts) = 1)
        ) j JOIN _grp g USING (group_id)
        WHERE j.n <= 500 - g.base"""
    )
    con.execute(
        """INSERT INTO group_members
        SELECT * FROM (SELECT * FROM _gj UNION ALL SELECT * FROM _x_group_members_left) ORDER BY ts"""
    )
    con.execute("DROP TABLE _x_wecom_contacts_removed")
    con.execute("DROP TABLE _loop")
    con.execute("DROP TABLE _x_group_members_left")


def _insert_schedules(
    con: Any, p: Params, dims: sql.Dims, d_lo: int, d_hi: int, lo_us: int, hi_us: int
) -> None:
    """Articles, video posts, live sessions and groups (whose sizes follow the joins)."""
    con.execute(
        f"""INSERT INTO oa_articles
        SELECT * FROM ({sql.articles_sql(p, dims, d_lo - 30, d_hi)})
        WHERE published_at < make_timestamptz({hi_us}) ORDER BY published_at, article_id"""
    )
    con.execute(
        f"""INSERT INTO channel_posts
        SELECT * FROM ({sql.posts_sql(p, dims, d_lo - 7, d_hi)})
        WHERE ts < make_timestamptz({hi_us}) ORDER BY ts, post_id"""
    )
    con.execute(
        f"""INSERT INTO live_sessions
        SELECT live_id, channel_id, merchant_id, make_timestamptz(start_us),
               CASE WHEN end_us <= {hi_us} THEN make_timestamptz(end_us) END, peak
        FROM _live WHERE start_us < {hi_us} AND end_us > {lo_us} ORDER BY start_us, live_id"""
    )
    con.execute(
        f"""INSERT INTO groups
        SELECT g.group_id, g.kind, g.merchant_id,
               least(500, greatest(0, g.base + coalesce(n.net, 0)))::INTEGER,
               CASE WHEN g.kind = 'customer' THEN {_ago(lo_us, "g.group_id", 460, 900, 1)}
                    ELSE {_ago(lo_us, "g.group_id", 461, 2500, 1)} END,
               CASE WHEN g.kind = 'customer' THEN coalesce(c.name, '') || ' 会员' || (g.group_id - m.first_gid + 1)::VARCHAR || '群'
                    ELSE {sql._str_list(["家人", "同学", "同事", "球友", "邻居", "驴友", "宝妈", "老乡"])}[{sql._pick("ru(g.group_id, 462)", 8)}] || '群' END
        FROM _grp g
        LEFT JOIN (SELECT group_id, sum(CASE action WHEN 'join' THEN 1 ELSE -1 END) AS net FROM group_members GROUP BY ALL) n USING (group_id)
        LEFT JOIN wecom_enterprises c USING (corp_id)
        LEFT JOIN _m m ON m.merchant_id = g.merchant_id
        ORDER BY g.group_id"""
    )
