"""The live event source: new rows for every raw table, continuing a generated history.

`EventStream(scale, seed).events(start, end)` returns the rows of the events stamped in
[start, end) as Arrow tables with the schema's column names and types. It runs the generator's own
per-minute process (same daily curve, volumes, user pools, favourite merchants, schedules), so
trends continue smoothly from a file `ecotop generate` made with the same scale and seed, and the
ids of users, merchants, accounts, Mini Programs, enterprises, channels and groups agree with it.
Articles, video posts and live sessions have schedule ids (`D * count + owner id`, D = local days
since 2020-01-01) that agree with the file too.

New event ids (tx_id, order_id, and user_id / merchant_id of new users and merchants):
- with `start_ids` (from a caller that has the file, e.g. `store.ingest.next_ids(db)`), dense
  counters starting there, advanced by each call (call in increasing time order);
- without, time-based: `D * 1_000_000_000 + index of the event within its local day D`. These never
  collide with a history's dense ids (below 10^9 for any scale up to 40 at 60 days) and are the same
  whoever computes them, so several producers of the same window agree.

Outcomes that lie in the future of an event are emitted with the event (append-only): a payment
that will be refunded is 'refunded' with a future refunded_at, a Pay Score order is 'done' with its
future completed_at / paid_at, a live session carries its planned ended_at. Member enrolments,
WeCom contact adds and customer-group joins follow their payment within the same minute.

Several producers: `producer=(K, N)` keeps producer K's share of every window (see _OWNER), so N
streams for the same file together give the one stream's rows, no row or id twice, and each refers
only to ids the file holds or it made itself; with start_ids, producer K's counters step by N from
start + K - 1.

Deterministic: a new stream with the same (scale, seed, zone, rate, start_ids) returns the same
rows for the same (start, end), and splitting a window in two gives the same rows (ids aside in
counter mode only if calls are made in time order).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc

from ecotop.sample_data import generator, model, sql
from ecotop.sample_data.model import EVENTS, Params
from ecotop.store import bulk
from ecotop.store.db import apply_migrations
from ecotop.store.ingest import ID_COLUMNS  # the id columns of new events: one list

# The tables a stream produces rows for (every raw table that grows with time).
STREAM_TABLES = (
    "users",
    "merchants",
    "app_sessions",
    "oa_follows",
    "oa_articles",
    "oa_reads",
    "mp_visits",
    "transactions",
    "memberships",
    "payscore_orders",
    "wecom_contacts",
    "group_members",
    "wecom_messages",
    "channel_posts",
    "live_sessions",
    "channel_views",
)

_SLOT_TABLES = (
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
    "new_users",
    "new_merchants",
)

_FAR_FUTURE_US = 2**62
CHUNK_US = 10 * 60_000_000  # events are computed ten minutes at a time and served from a cache
TIME_COLUMN = {
    "users": "registered_at",
    "merchants": "created_at",
    "memberships": "enrolled_at",
    "oa_articles": "published_at",
    "live_sessions": "started_at",
}

# Producer K of N (`producer=(K, N)`) keeps the rows whose owner (a non-negative integer, taken
# mod N) is K - 1, so the N producers' rows together are exactly the one stream's and no two hold
# the same row or id. A row goes with what it refers to that the stream itself creates: a read
# with its article, a view with its post or live, a payment in a live with that live, a membership
# with its payment (when that payment is in the same chunk), so every reference a producer writes
# is to the database's ids or its own. Rows that refer to nothing new split by their hash.
_ANY = "(hash(r) % 1000003)::BIGINT"
_OWNER = {
    "users": "user_id",
    "merchants": "merchant_id",
    "oa_articles": "article_id",
    "oa_reads": "article_id",
    "channel_posts": "post_id",
    "live_sessions": "live_id",
    "channel_views": f"coalesce(live_id, post_id, {_ANY})",
    "transactions": "coalesce(live_id, tx_id)",
    "payscore_orders": "order_id",
    "memberships": "coalesce((SELECT coalesce(x.live_id, x.tx_id) FROM transactions AS x "
    f"WHERE x.tx_id = r.tx_id), r.tx_id, {_ANY})",
}


def _run(con: Any, q: str) -> None:
    """Execute a statement and complete its result (so the connection is free for the next one)."""
    con.execute(q).fetchall()


def natural_rate(scale: float) -> float:
    """Events per second of the history's process at `scale` (mean over a weekday)."""
    per_day = sum(s.per_day for t, s in EVENTS.items() if not t.startswith("new_"))
    return per_day * scale / 86_400.0


def _us(t: datetime, zone: ZoneInfo) -> int:
    if t.tzinfo is None:
        t = t.replace(tzinfo=zone)
    return round(t.timestamp() * 1_000_000)


class EventStream:
    """New rows of every raw table for any time window; see the module docstring."""

    def __init__(
        self,
        scale: float,
        seed: int,
        *,
        display_zone: str = "Asia/Shanghai",
        rate: float | None = None,
        rate_at: datetime | None = None,
        start_ids: Mapping[str, int] | None = None,
        producer: tuple[int, int] = (1, 1),
    ) -> None:
        """`rate`: events a second on average over a weekday, the daily curve kept; with `rate_at`,
        events a second in the hour around that moment instead (the curve scaled to it).
        `producer=(K, N)`: only producer K's share of the rows (see _OWNER)."""
        k, n = producer
        if not (1 <= k <= n):
            raise ValueError(f"producer must be K/N with 1 <= K <= N, not {k}/{n}")
        self.producer = (int(k), int(n))
        if not (scale > 0):
            raise ValueError(f"scale must be above 0, not {scale!r}")
        if rate is not None and not (rate > 0):
            raise ValueError(f"rate must be above 0 events/s, not {rate!r}")
        self.scale = float(scale)
        self.seed = int(seed)
        self.zone_name = display_zone
        self.zone = ZoneInfo(display_zone)
        self.rate = rate
        self.rate_factor = 1.0 if rate is None else rate / natural_rate(self.scale)
        if rate is not None and rate_at is not None:
            self.rate_factor = rate / self._natural_rate_at(rate_at, display_zone)
        # an exaggerated rate computes shorter chunks (whole minutes, else whole seconds) so one
        # chunk stays ~bounded; rows_cte makes only the rows of a chunk's own seconds
        span = int(CHUNK_US / max(1.0, self.rate_factor))
        unit = 60_000_000 if span >= 60_000_000 else 1_000_000
        self.chunk_us = max(unit, span // unit * unit)
        self.p = Params(self.scale, self.seed)
        self.next_ids: dict[str, int] | None = (
            {k: int(v) for k, v in start_ids.items()} if start_ids is not None else None
        )
        self._con = bulk.memory_connection()
        apply_migrations(self._con, 0)
        self.dims = generator.setup(self._con, self.p)
        self._days: tuple[int, int] | None = None
        self._selects = sql.event_selects(self.p, self.dims, None)
        self._cache: dict[int, dict[str, pa.Table]] = {}
        self._tx_map: dict[int, int] = {}
        self._empty = {
            t: self._con.sql(f"SELECT * FROM {t} LIMIT 0").to_arrow_table() for t in STREAM_TABLES
        }

    def _natural_rate_at(self, at: datetime, zone: str) -> float:
        """Events a second of the history's own process in the hour around `at`."""
        from datetime import timedelta

        with EventStream(self.scale, self.seed, display_zone=zone) as natural:
            rows = natural.events(at - timedelta(minutes=30), at + timedelta(minutes=30))
        n = int(sum(t.num_rows for t in rows.values()))
        return max(n, 1) / 3600.0

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> EventStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------------------

    def _prepare(self, d_lo: int, d_hi: int) -> None:
        """Minutes, days, live sessions and slots of the local days [d_lo, d_hi] (cached)."""
        if self._days == (d_lo, d_hi):
            return
        con = self._con
        days = [(d, generator.local_midnight_us(d, self.zone)) for d in range(d_lo - 31, d_hi + 2)]
        _run(con, sql.day_zero_sql(days))
        first = generator.local_midnight_us(d_lo, self.zone)
        last = generator.local_midnight_us(d_hi + 1, self.zone)
        _run(
            con,
            sql.minutes_sql(first, (last - first) // sql.US_PER_MIN, first, last, self.zone_name),
        )
        _run(con, sql.days_sql(self.p))
        _run(con, sql.live_sessions_sql(self.dims, d_lo - 1, d_hi))
        for table in _SLOT_TABLES:
            _run(con, sql.slots_sql(self.p, table, None, self.rate_factor))
        self._days = (d_lo, d_hi)

    def events(self, start: datetime, end: datetime) -> dict[str, pa.Table]:
        """The rows of every table in STREAM_TABLES for events stamped in [start, end)."""
        lo = _us(start, self.zone)
        hi = _us(end, self.zone)
        parts: dict[str, list[pa.Table]] = {t: [] for t in STREAM_TABLES}
        c = lo - lo % self.chunk_us
        while c < hi:
            chunk = self._chunk(c)
            for t in STREAM_TABLES:
                tbl = chunk[t]
                col = tbl.column(TIME_COLUMN.get(t, "ts"))
                lo_s = pa.scalar(lo, pa.int64())
                hi_s = pa.scalar(hi, pa.int64())
                us = pc.cast(col, pa.int64())
                mask = pc.and_(pc.greater_equal(us, lo_s), pc.less(us, hi_s))
                parts[t].append(tbl.filter(mask))
            c += self.chunk_us
        out = {t: pa.concat_tables(v) if v else self._empty[t] for t, v in parts.items()}
        if self.next_ids is not None:
            out = self._renumber(out)
        return out

    def _chunk(self, c: int) -> dict[str, pa.Table]:
        """Every row of the self.chunk_us-long chunk starting at c (cached), with time-based ids."""
        if c in self._cache:
            return self._cache[c]
        con = self._con
        for t in STREAM_TABLES:
            _run(con, f"DELETE FROM {t}")
        d_lo = generator.local_day(c, self.zone)
        d_hi = generator.local_day(c + self.chunk_us - 1, self.zone)
        self._prepare(d_lo, d_hi)
        self._fill(c, c + self.chunk_us, d_lo, d_hi)
        out = {}
        k, n = self.producer
        for t in STREAM_TABLES:
            order = TIME_COLUMN.get(t, "ts")
            mine = "" if n == 1 else f"WHERE ({_OWNER.get(t, _ANY)}) % {n} = {k - 1}"
            out[t] = con.sql(f"SELECT * FROM {t} AS r {mine} ORDER BY {order}").to_arrow_table()
        self._cache = {k: v for k, v in self._cache.items() if k >= c - self.chunk_us}
        self._cache[c] = out
        return out

    def _renumber(self, out: dict[str, pa.Table]) -> dict[str, pa.Table]:
        """Replace time-based ids by the dense counters that started at start_ids."""
        assert self.next_ids is not None
        for t, col in ID_COLUMNS.items():
            if col not in self.next_ids:
                continue
            tbl = out[t]
            n = tbl.num_rows
            if n == 0:
                continue
            tbl = tbl.sort_by([(TIME_COLUMN.get(t, "ts"), "ascending"), (col, "ascending")])
            start = self.next_ids[col]
            # producer K of N takes every N-th id from start on (its own residue class)
            k, step = self.producer
            mine = range(start + k - 1, start + step * n, step)
            new = pa.array(mine, pa.int64())
            if t == "transactions":
                for old, nid in zip(tbl.column(col).to_pylist(), mine, strict=True):
                    self._tx_map[old] = nid
            tbl = tbl.set_column(tbl.schema.get_field_index(col), col, new)
            self.next_ids[col] = start + step * n
            out[t] = tbl
        if "tx_id" in self.next_ids and out["memberships"].num_rows:
            m = out["memberships"]
            ids = [
                None if v is None else self._tx_map.get(v) for v in m.column("tx_id").to_pylist()
            ]
            i = m.schema.get_field_index("tx_id")
            out["memberships"] = m.set_column(i, "tx_id", pa.array(ids, pa.int64()))
        if len(self._tx_map) > 200_000:
            keep = sorted(self._tx_map)[-50_000:]
            self._tx_map = {k: self._tx_map[k] for k in keep}
        return out

    def _fill(self, lo: int, hi: int, d_lo: int, d_hi: int) -> None:
        con = self._con
        # the slots that overlap the chunk (a live block starts before it and runs on)
        overlap = f"t0_us < {hi} AND t0_us + dur_us > {lo}"
        window = f"ts >= make_timestamptz({lo}) AND ts < make_timestamptz({hi})"
        for table in _SLOT_TABLES:
            if table.startswith("new_"):
                continue
            body = self._selects[table].format(id="key", now_us=_FAR_FUTURE_US)
            q = f"WITH {sql.rows_cte(table, overlap, (lo, hi))} {body}"
            target = {
                "wecom_contacts_removed": "wecom_contacts",
                "group_members_left": "group_members",
            }
            dest = target.get(table, table)
            _run(con, f"INSERT INTO {dest} SELECT * FROM ({q}) WHERE {window}")
        self._new_entities(overlap, lo, hi)
        # the loop events that follow this window's payments
        src = "(SELECT *, epoch_us(ts) AS _key FROM transactions WHERE status <> 'failed')"
        d = sql.derived_selects(self.p, src)
        _run(
            con,
            f"INSERT INTO memberships SELECT merchant_id, user_id, enrolled_at, channel, tx_id "
            f"FROM ({d['memberships']}) WHERE enrolled_at < make_timestamptz({hi})",
        )
        _run(
            con,
            f"INSERT INTO wecom_contacts SELECT ts, corp_id, merchant_id, staff_id, user_id, action "
            f"FROM ({d['wecom_contacts']}) WHERE ts < make_timestamptz({hi})",
        )
        _run(
            con,
            f"INSERT INTO group_members SELECT ts, group_id, user_id, action "
            f"FROM ({d['group_members']}) WHERE ts < make_timestamptz({hi})",
        )
        # schedules: articles, video posts and live sessions that start in the window
        _run(
            con,
            f"INSERT INTO oa_articles SELECT * FROM ({sql.articles_sql(self.p, self.dims, d_lo, d_hi)}) "
            f"WHERE published_at >= make_timestamptz({lo}) AND published_at < make_timestamptz({hi})",
        )
        _run(
            con,
            f"INSERT INTO channel_posts SELECT * FROM ({sql.posts_sql(self.p, self.dims, d_lo, d_hi)}) "
            f"WHERE {window}",
        )
        _run(
            con,
            f"""INSERT INTO live_sessions
            SELECT live_id, channel_id, merchant_id, make_timestamptz(start_us), make_timestamptz(end_us), peak
            FROM _live WHERE start_us >= {lo} AND start_us < {hi}""",
        )

    def entities(self, table: str, ids: list[int]) -> pa.Table:
        """The rows of `table` (oa_articles, channel_posts or live_sessions) with these schedule
        ids, as the history has them (a live session with its planned ended_at). Call right after
        `events()` of the window whose rows refer to them: the ids lie within its days."""
        con = self._con
        if not ids or self._days is None:
            return (
                self._empty.get(table) or con.sql(f"SELECT * FROM {table} LIMIT 0").to_arrow_table()
            )
        id_list = ", ".join(str(int(i)) for i in sorted(set(ids)))
        if table == "live_sessions":
            q = f"""SELECT live_id, channel_id, merchant_id, make_timestamptz(start_us) AS started_at,
                           make_timestamptz(end_us) AS ended_at, peak AS peak_viewers
                    FROM _live WHERE live_id IN ({id_list})"""
        else:
            n, fn, key = (
                (self.dims.n_acct, sql.articles_sql, "article_id")
                if table == "oa_articles"
                else (self.dims.n_chan, sql.posts_sql, "post_id")
            )
            days = sorted({int(i) // n for i in ids})
            q = f"SELECT * FROM ({fn(self.p, self.dims, days[0], days[-1])}) WHERE {key} IN ({id_list})"
        return con.sql(f"SELECT * FROM ({q}) ORDER BY 1").to_arrow_table()

    def _new_entities(self, where: str, lo: int, hi: int) -> None:
        """A trickle of new users and merchants (rows for `users` and `merchants`)."""
        con = self._con
        cities = sql._str_list([c[1] for c in model.CITIES])
        provinces = sql._str_list([c[0] for c in model.CITIES])
        city_lut = sql._lut([c[2] for c in model.CITIES])
        ind_lut = sql._lut([i.merchant_share for i in model.INDUSTRIES])
        ind_keys = sql._str_list([i.key for i in model.INDUSTRIES])
        q_users = f"""WITH {sql.rows_cte("new_users", where, (lo, hi))}
            SELECT key AS user_id, make_timestamptz(ts_us) AS registered_at,
                   {cities}[c] AS city, {provinces}[c] AS province
            FROM (SELECT *, {city_lut}[{sql._pick("ru(key, 402)", 1000)}] AS c FROM r)"""
        within = f"{{0}} >= make_timestamptz({lo}) AND {{0}} < make_timestamptz({hi})"
        q_users = f"SELECT * FROM ({q_users}) WHERE {within.format('registered_at')}"
        _run(con, f"INSERT INTO users {q_users}")
        q_m = f"""WITH {sql.rows_cte("new_merchants", where, (lo, hi))}
            SELECT key AS merchant_id, {generator.merchant_name_sql("key", "ind", "c")} AS name,
                   {ind_keys}[ind] AS industry, {cities}[c] AS city, {provinces}[c] AS province,
                   0.001 AS size_weight, make_timestamptz(ts_us) AS created_at
            FROM (SELECT *, {ind_lut}[{sql._pick("ru(key, 21)", 1000)}] AS ind,
                         {city_lut}[{sql._pick("ru(key, 22)", 1000)}] AS c FROM r)"""
        q_m = f"SELECT * FROM ({q_m}) WHERE {within.format('created_at')}"
        _run(con, f"INSERT INTO merchants {q_m}")
