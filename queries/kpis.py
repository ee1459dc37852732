"""Every pillar's headline measures for a window and the previous one (the `kpis` contract)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from ecotop.queries.measures import MEASURES, PILLARS, MeasureDef
from ecotop.queries.registry import registry as named_queries
from ecotop.queries.windows import (
    DEFAULT_BASELINE,
    Window,
    clamp_as_of,
    live_as_of,
    parse_baseline,
    window,
)

DEFAULT_ZONE = "Asia/Shanghai"

# Hidden helper columns of headline queries that derived measures use: pillar.column -> value key.
_HELPERS = {
    "messaging": {"opens": "_opens", "moments_posts": "_posts"},
    "official_accounts": {"recipients": "_recipients"},
}

# Newest rollup minute, oldest rollup hour and the sampling modulus, in one round trip. The newest
# minute is looked for only from the newest hour on, so zone maps skip the rest of rollup_minute.
_FILE_INFO = """
SELECT (SELECT max(minute) FROM rollup_minute
         WHERE minute >= (SELECT max(hour) FROM rollup_hour)) AS newest_minute,
       (SELECT min(hour) FROM rollup_hour) AS oldest_hour,
       (SELECT max(value) FROM ecotop_meta WHERE key = 'sample_mod') AS sample_mod,
       (SELECT max(value) FROM ecotop_meta WHERE key = 'display_zone') AS display_zone,
       (SELECT count(*) FROM duckdb_tables() WHERE table_name = 'rollup_active_day_sample') > 0
           AS has_day_sample
"""


@dataclass(frozen=True)
class FileInfo:
    """What kpis needs to know about a file before it can choose windows."""

    newest_minute: datetime | None
    oldest_hour: datetime | None
    sample_mod: int
    display_zone: str | None
    has_day_sample: bool = True  # False for files made before rollup_active_day_sample

    @property
    def as_of(self) -> datetime | None:
        """The minute after the newest event, never later than the minute after the wall clock
        (a live writer may have recorded times ahead of it); None for an empty file."""
        return self.as_of_at(None)

    def as_of_at(self, now: datetime | None) -> datetime | None:
        """`as_of` with the wall clock taken as `now` (tests)."""
        if self.newest_minute is None:
            return None
        return clamp_as_of(self.newest_minute + timedelta(minutes=1), now)

    def has_data_before(self, t: datetime) -> bool:
        """True when the file holds events before `t` (so a window ending at `t` has data)."""
        return self.oldest_hour is not None and self.oldest_hour < t


def file_info(cur: Any) -> FileInfo:
    """Newest minute, oldest hour, sample_mod and display_zone of the file, in one query."""
    newest, oldest, mod, zone, days = cur.execute(_FILE_INFO).fetchall()[0]
    return FileInfo(newest, oldest, int(mod) if mod else 1, zone, bool(days))


@dataclass(frozen=True)
class Measure:
    """One measure's value now and in the previous window, with what is needed to show it."""

    definition: MeasureDef
    value: Any
    previous: Any
    approx: bool = False

    @property
    def change(self) -> float | None:
        """Percent change for counts and money, percentage points for rates; None without previous."""
        if self.value is None or self.previous is None:
            return None
        v, p = float(self.value), float(self.previous)
        if self.definition.kind == "rate":
            return (v - p) * 100.0
        if p == 0:
            return None
        return (v - p) / abs(p) * 100.0


@dataclass
class KpiSet:
    """Headline measures of every pillar for one window."""

    window: Window
    as_of: datetime
    live: bool
    pillars: dict[str, dict[str, Measure]] = field(default_factory=dict)
    elapsed_ms: float = 0.0
    display_zone: str | None = None  # the file's display_zone (ecotop_meta), if it names one

    def zone(self) -> tzinfo:
        """The file's display zone, else Asia/Shanghai (interfaces may override, e.g. by env)."""
        from zoneinfo import ZoneInfo

        try:
            return ZoneInfo(self.display_zone or DEFAULT_ZONE)
        except (ValueError, KeyError):
            return ZoneInfo(DEFAULT_ZONE)

    def get(self, measure_id: str) -> Measure:
        pillar, key = measure_id.split(".", 1)
        return self.pillars[pillar][key]

    @property
    def baseline(self) -> str:
        """The baseline the `previous` values come from: previous, day or week."""
        return self.window.baseline

    def to_dict(self, zone: tzinfo | None = None) -> dict[str, Any]:
        """The JSON contract: {"range", "baseline", "as_of", "pillars": {pillar: {measure: {"value",
        "previous"}}}}.

        `previous` is the value in the baseline window (`baseline`: previous, day or week), null when
        that window has no data. Rates are fractions, money numbers in CNY; `as_of` is ISO 8601 with
        the offset of `zone` (default: `self.zone()`). Which measures are approximate is in MEASURES
        (`users`) and `rows()`, not in this object.
        """
        return {
            "range": self.window.range,
            "baseline": self.window.baseline,
            "as_of": self.as_of.astimezone(zone or self.zone()).isoformat(),
            "pillars": {
                p: {
                    k: {"value": _json_value(m.value), "previous": _json_value(m.previous)}
                    for k, m in ms.items()
                }
                for p, ms in self.pillars.items()
            },
        }

    def to_json(self, indent: int | None = 2, zone: tzinfo | None = None) -> str:
        return json.dumps(self.to_dict(zone), indent=indent, ensure_ascii=False)

    def rows(self) -> list[dict[str, Any]]:
        """Flat rows (pillar, measure, value, previous, change, approx, baseline) for CSV and tables."""
        out = []
        for p, ms in self.pillars.items():
            for k, m in ms.items():
                out.append(
                    {
                        "pillar": p,
                        "measure": k,
                        "value": _json_value(m.value),
                        "previous": _json_value(m.previous),
                        "change": m.change,
                        "approx": m.approx,
                        "baseline": self.window.baseline,
                    }
                )
        return out


def _json_value(v: Any) -> Any:
    if isinstance(v, Decimal):
        return float(v)
    if isinstance(v, float) and v != v:  # NaN
        return None
    return v


def resolve_as_of(cur: Any, live: bool = False, now: datetime | None = None) -> datetime | None:
    """The window end: the minute after the wall clock when live, else after the newest event (and
    never later than the minute after the wall clock)."""
    return live_as_of(now) if live else file_info(cur).as_of_at(now)


def headline_values(cur: Any, win: Window) -> dict[str, dict[str, Any]]:
    """Every `<pillar>/headline` column for the current ('c') and previous ('p') window.

    Keys are `pillar.column` (helper columns of derived measures under their `_name`).
    """
    values: dict[str, dict[str, Any]] = {"c": {}, "p": {}}
    reg = named_queries()
    params = win.params()
    for pillar in PILLARS:
        q = reg.get(f"{pillar}/headline")
        if q is None:
            continue
        for row in q.rows(cur, **params):
            w = row.pop("win")
            helpers = _HELPERS.get(pillar, {})
            for col, val in row.items():
                values[w][f"{pillar}.{col}"] = val
                if col in helpers:
                    values[w][f"{pillar}.{helpers[col]}"] = val
    return values


def _q2(x: Decimal) -> Decimal:
    return x.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _ratio(a: Any, b: Any) -> float | None:
    return float(a) / float(b) if b else None


def _headline_from_sums(
    sums: dict[str, dict[str, Decimal]],
    by_dim: dict[tuple[str, str, str], Decimal],
    state: dict[str, Any],
    w: str,
    minutes: float,
) -> dict[str, Any]:
    """The `<pillar>/headline` columns of window `w` from rollup sums (same definitions, tested equal)."""
    zero = Decimal(0)

    def g(measure: str, win: str = w) -> Decimal:
        return sums.get(win, {}).get(measure, zero)

    out: dict[str, Any] = {}
    # Messaging
    out["messaging.sessions"] = int(g("msg.sessions"))
    out["messaging.opens"] = int(g("msg.opens"))
    out["messaging.video_call_minutes"] = float(g("msg.video_call_minutes"))
    out["messaging.moments_posts"] = int(g("msg.moments_posts"))
    # Official Accounts
    reads, shares = g("oa.reads"), g("oa.shares")
    follows, unfollows = g("oa.follows"), g("oa.unfollows")
    out["official_accounts.reads"] = int(reads)
    out["official_accounts.share_rate"] = _ratio(shares, reads)
    out["official_accounts.follows"] = int(follows)
    out["official_accounts.unfollows"] = int(unfollows)
    out["official_accounts.net_followers"] = int(follows - unfollows)
    out["official_accounts.recipients"] = int(g("oa.recipients"))
    # Mini Programs
    orders, gmv, refunded = g("mp.orders"), g("mp.gmv"), g("mp.refunded_amount")
    out["mini_programs.visits"] = int(g("mp.visits"))
    out["mini_programs.orders"] = int(orders)
    out["mini_programs.gmv"] = _q2(gmv)
    out["mini_programs.aov"] = _q2(gmv / orders) if orders else None
    out["mini_programs.refund_rate"] = _ratio(refunded, gmv)
    # Pay
    paid, attempts, gmv = g("pay.paid"), g("pay.attempts"), g("pay.gmv")
    out["pay.transactions"] = int(paid)
    out["pay.tpm"] = float(paid) / minutes
    out["pay.gmv"] = _q2(gmv)
    out["pay.success_rate"] = _ratio(paid, attempts)
    out["pay.refund_rate"] = _ratio(g("pay.refunded_amount"), gmv)
    out["pay.aov"] = _q2(gmv / paid) if paid else None
    # Pay Score
    done, c7, c30 = g("ps.completed"), g("ps.completed", w + "7"), g("ps.completed", w + "30")
    out["pay_score.orders"] = int(g("ps.orders"))
    out["pay_score.deposits_waived"] = _q2(g("ps.deposit_waived"))
    out["pay_score.collection_rate_d0"] = _ratio(g("ps.paid_d0"), done)
    out["pay_score.collection_rate_d7"] = _ratio(g("ps.paid_d7", w + "7"), c7)
    out["pay_score.collection_rate_d30"] = _ratio(g("ps.paid_d30", w + "30"), c30)
    out["pay_score.bad_debt_rate"] = _ratio(c30 - g("ps.paid_d30", w + "30"), c30)
    # WeCom
    added, removed = g("wc.contacts_added"), g("wc.contacts_removed")
    groups = state[f"customer_groups_{w}"]
    out["wecom.enterprises"] = state[f"enterprises_{w}"]
    out["wecom.contacts_added"] = int(added)
    out["wecom.contacts_removed"] = int(removed)
    out["wecom.net_contacts"] = int(added - removed)
    out["wecom.customer_groups"] = groups
    out["wecom.group_members"] = state[f"group_members_{w}"]
    out["wecom.group_joins"] = int(g("wc.group_joins"))
    out["wecom.active_group_share"] = _ratio(state[f"active_groups_{w}"], groups)
    out["wecom.message_reach"] = _ratio(g("wc.delivered"), g("wc.targeted"))
    # Channels
    views, live_views = g("ch.views"), by_dim.get((w, "ch.views", "live"), zero)
    live_gmv = by_dim.get((w, "pay.gmv", "channels_live"), zero)
    out["channels.views"] = int(views)
    out["channels.completion_rate"] = _ratio(g("ch.completed"), views)
    out["channels.live_sessions"] = state[f"live_sessions_{w}"]
    out["channels.peak_viewers"] = state[f"peak_viewers_{w}"]
    out["channels.live_gmv"] = _q2(live_gmv)
    out["channels.gmv_per_1k_viewers"] = _q2(live_gmv * 1000 / live_views) if live_views else None
    for pillar, helpers in _HELPERS.items():
        for col, key in helpers.items():
            out[f"{pillar}.{key}"] = out[f"{pillar}.{col}"]
    return out


def fast_headline_values(cur: Any, win: Window) -> dict[str, dict[str, Any]]:
    """The same values as headline_values() from two queries instead of seven: every rollup sum of
    the windows in one pass (overview/headline_sums) and the non-sums (overview/headline_state)."""
    reg = named_queries()
    params = win.params()
    sums: dict[str, dict[str, Decimal]] = {}
    by_dim: dict[tuple[str, str, str], Decimal] = {}
    # Up to an hour every window lies in rollup_minute: the short form plans in a third of the time.
    short = win.length <= timedelta(hours=1)
    sums_query = reg["overview/headline_sums_short" if short else "overview/headline_sums"]
    for row in sums_query.rows(cur, **params):
        w, measure, dim, value = row["win"], row["measure"], row["dim"], row["value"]
        d = sums.setdefault(w, {})
        d[measure] = d.get(measure, Decimal(0)) + value
        by_dim[(w, measure, dim)] = value
    state = reg["overview/headline_state"].rows(cur, **params)[0]
    minutes = win.length / timedelta(minutes=1)
    return {w: _headline_from_sums(sums, by_dim, state, w, minutes) for w in ("c", "p")}


def user_counts(
    cur: Any, win: Window, mod: int, day_sample: bool = True
) -> dict[str, dict[str, int]]:
    """Distinct users per flag for 'c' and 'p': exact up to 24h, from the user sample beyond
    (`day_sample=False` for files without rollup_active_day_sample)."""
    reg = named_queries()
    if win.exact_users:
        rows = reg["users/active"].rows(cur, **win.params())
    else:
        name = "users/active_approx" if day_sample else "users/active_approx_hourly"
        rows = reg[name].rows(cur, mod=mod, **win.params())
    return {r.pop("win"): r for r in rows}


def _users_in_background(
    cur: Any, win: Window, mod: int, day_sample: bool
) -> Callable[[], dict[str, Any]]:
    """Start the distinct-user query (the slowest part) on its own cursor and thread while the
    caller runs the rollup queries; the returned function waits for it. Falls back to running it
    on `cur` when the cursor cannot make another (a remote cursor)."""
    from ecotop.queries.gateway import LocalCursor
    from ecotop.queries.registry import is_served_cursor

    if is_served_cursor(cur):  # one request at a time on the writer's socket
        result = user_counts(cur, win, mod, day_sample)
        return lambda: result
    # a DuckDB cursor (or the lake's) makes a sibling; the gateway's wraps one
    other = LocalCursor(cur.raw.cursor()) if isinstance(cur, LocalCursor) else cur.cursor()
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["value"] = user_counts(other, win, mod, day_sample)
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc
        finally:
            other.close()

    thread = threading.Thread(target=work, name="ecotop-kpis-users", daemon=True)
    thread.start()

    def wait() -> dict[str, Any]:
        thread.join()
        if "error" in box:
            raise box["error"]
        value: dict[str, Any] = box["value"]
        return value

    return wait


def kpis(
    cur: Any,
    range_key: str,
    *,
    as_of: datetime | None = None,
    live: bool = False,
    now: datetime | None = None,
    mod: int | None = None,
    baseline: str = DEFAULT_BASELINE,
    users: bool = True,
) -> KpiSet:
    """Compute every pillar's headline measures for `range_key` ending at `as_of`.

    `as_of` defaults to resolve_as_of() (never later than the wall clock); `baseline` chooses the
    window the `previous` values come from: `previous` (the equal window before), `day` or `week`
    (the same window a day or a week earlier). `mod` is the file's user sampling modulus (read from
    the file when None). Reads only bounded state: two rollup queries and one distinct-users query.
    The baseline values are None when the file has no data before that window's end. With
    `users=False` the distinct-user query is skipped and user measures are None (alert windows whose
    rules read none).
    """
    t0 = time.perf_counter()
    info = file_info(cur)
    end = as_of or (live_as_of(now) if live else info.as_of_at(now)) or live_as_of(now)
    win = window(range_key, end, parse_baseline(baseline))
    wait_users = (
        _users_in_background(cur, win, info.sample_mod if mod is None else mod, info.has_day_sample)
        if users
        else None
    )
    values = fast_headline_values(cur, win)
    counts = wait_users() if wait_users is not None else None
    covered = {"c": True, "p": info.has_data_before(win.prev_end)}
    for w in ("c", "p"):
        vals = values[w]
        for m in MEASURES:
            if m.flag:
                vals[m.id] = None if counts is None else counts.get(w, {}).get(m.flag, 0)
            elif m.column:
                vals[m.id] = vals.get(f"{m.pillar}.{m.column}")
        for m in MEASURES:
            if m.derive:
                vals[m.id] = m.derive(vals)
    out: dict[str, dict[str, Measure]] = {p: {} for p in PILLARS}
    for m in MEASURES:
        prev = values["p"].get(m.id) if covered["p"] else None
        out[m.pillar][m.key] = Measure(
            m, values["c"].get(m.id), prev, approx=m.users and not win.exact_users
        )
    return KpiSet(
        win,
        end,
        live,
        {p: ms for p, ms in out.items() if ms},
        elapsed_ms=(time.perf_counter() - t0) * 1000,
        display_zone=info.display_zone,
    )
