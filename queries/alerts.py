"""Alert rules over the headline measures: one set of rules for the dashboard and `ecotop check`.

A `Rule` watches one measure of the catalogue (`pay.success_rate`), every headline measure (`*`), or
the special measure `stale` (seconds since the newest data, judged only when data is live). Its
condition is `below` or `above` a threshold, or `change`: more than N percent above or below the same
window a week earlier. Each rule has its own window (default 15m, whatever the screen shows) and a
minimum volume: the count behind the measure (`VOLUME`) must reach it before the rule judges, so a
quiet night of three payments and one failure is not a 67% success rate alarm.

`evaluate()` computes each distinct rule window once with `queries.kpis` (and once more a week
earlier for change rules) and returns one `AlertResult` per rule and measure. States follow the
monitoring-plugin convention (OK 0, WARNING 1, CRITICAL 2, UNKNOWN 3); `worst()` ranks them
OK < UNKNOWN < WARNING < CRITICAL, as monitoring-plugins' max_state_alt does.

Nothing here imports Textual or duckdb: callers pass a DuckDB cursor from `store`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import IntEnum
from typing import Any

from ecotop.queries.kpis import KpiSet, kpis, resolve_as_of
from ecotop.queries.measures import BY_ID, MEASURES, MeasureDef
from ecotop.queries.windows import RANGES, newest_as_of

CONDITIONS = ("below", "above", "change")
STALE = "stale"  # the special measure: seconds since the newest data (live only)
ALL = "*"  # every headline measure of the catalogue (change rules only)
WEEK = timedelta(days=7)

# The count behind each measure: a rule judges only when it reaches the rule's min_volume. Rates use
# the count of their denominator's events. Measures not listed fall back to themselves when they are
# counts, else to the first count of their pillar in the catalogue; None: no count is known (the
# measure is left out of `*` change rules, and rules on it compare the value alone).
VOLUME: dict[str, str | None] = {
    "messaging.opens_per_user": "messaging.dau",
    "messaging.video_call_minutes": "messaging.video_call_users",
    "messaging.posts_per_poster": "messaging.moments_posters",
    "official_accounts.read_rate": "official_accounts.readers",
    "official_accounts.share_rate": "official_accounts.article_reads",
    "mini_programs.gmv": "mini_programs.orders",
    "mini_programs.aov": "mini_programs.orders",
    "mini_programs.arppu": "mini_programs.payers",
    "mini_programs.refund_rate": "mini_programs.orders",
    "pay.tpm": "pay.transactions",
    "pay.gmv": "pay.transactions",
    "pay.success_rate": "pay.transactions",
    "pay.refund_rate": "pay.transactions",
    "pay.aov": "pay.transactions",
    "pay_score.deposits_waived": "pay_score.orders",
    "pay_score.collection_rate_d0": "pay_score.orders",
    "pay_score.collection_rate_d7": "pay_score.orders",
    "pay_score.collection_rate_d30": "pay_score.orders",
    "pay_score.bad_debt_rate": "pay_score.orders",
    # Shares of stocks: the events behind them (messages, sends) are not headline counts.
    "wecom.active_group_share": None,
    "wecom.message_reach": None,
    "channels.completion_rate": "channels.views",
    # Live GMV rests on the few payments made in lives, which no headline counts.
    "channels.gmv_per_1k_viewers": None,
    "channels.live_gmv": None,
}
# Measures weighted by lumpy money, not counts: one large refund moves a refund rate as much as
# several small ones, and a car-rental deposit (CNY 3,000) outweighs thirty power banks (CNY 99). Their
# volume counts as this many times fewer independent events (1 + the squared coefficient of
# variation of the amounts in the sample model) in the significance test and the volume floor.
DESIGN_EFFECT: dict[str, float] = {
    "pay.refund_rate": 4.0,
    "mini_programs.refund_rate": 4.0,
    "pay_score.deposits_waived": 7.0,
}
# Measures left out of `*` change rules: those that cross zero (a percentage means nothing), and
# those whose newest windows are not mature yet (refunds and day-0 collections arrive hours after the
# payment or completion they count in), so every fresh window would look like a drop.
NO_CHANGE_RULE: frozenset[str] = frozenset(
    {
        "official_accounts.net_followers",
        "wecom.net_contacts",
        "pay.refund_rate",
        "mini_programs.refund_rate",
        "pay_score.collection_rate_d0",
    }
)


class State(IntEnum):
    """A rule's state; the value is the monitoring-plugin exit code."""

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3

    @property
    def severity(self) -> int:
        """Rank for "the worst state wins": OK < UNKNOWN < WARNING < CRITICAL."""
        return {State.OK: 0, State.UNKNOWN: 1, State.WARNING: 2, State.CRITICAL: 3}[self]


class RuleError(ValueError):
    """A rule definition that cannot be used; `key` is the offending field (None: the whole rule),
    `related` other fields the problem involves."""

    def __init__(self, key: str | None, message: str, related: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.key = key
        self.related = related


@dataclass(frozen=True)
class Rule:
    """One alert rule.

    measure: a catalogue id (`pay.success_rate`), `*` (every headline measure, change rules only) or
    `stale` (seconds since the newest data; live only).
    condition: `below` / `above` (value against the thresholds, in the measure's data unit: rates as
    fractions, money in CNY, stale in seconds) or `change` (absolute percent change against the same
    window a week earlier, thresholds in percent).
    warning / critical: thresholds; either may be None (not both).
    window: the range the rule looks at (15m, 1h, 24h, 7d, 30d), independent of the screen.
    min_volume: the count behind the measure (VOLUME) must reach this, in both windows for change
    rules; below it the rule is OK and says it did not judge.
    confidence: for rates (below/above rules), how sure the rule must be that the true rate is past
    the threshold, not just this window's sample (a one-sided binomial test over the volume): 0.999
    by default; 0 compares the value alone. A total outage is certain after a handful of events,
    while one failure in 36 payments is noise.
    """

    name: str
    measure: str
    condition: str
    warning: float | None = None
    critical: float | None = None
    window: str = "15m"
    min_volume: float = 0
    confidence: float = 0.999
    description: str = ""

    def __post_init__(self) -> None:
        validate(self)

    @property
    def thresholds(self) -> tuple[float, ...]:
        return tuple(t for t in (self.warning, self.critical) if t is not None)

    def to_dict(self) -> dict[str, Any]:
        """The rule as a config-file table (without its name), None fields left out."""
        out: dict[str, Any] = {"measure": self.measure, "condition": self.condition}
        for k in ("warning", "critical"):
            v = getattr(self, k)
            if v is not None:
                out[k] = v
        out["window"] = self.window
        if self.min_volume:
            out["min_volume"] = self.min_volume
        if self.confidence != 0.999:
            out["confidence"] = self.confidence
        if self.description:
            out["description"] = self.description
        return out


RULE_KEYS = (
    "name",
    "measure",
    "condition",
    "warning",
    "critical",
    "window",
    "min_volume",
    "confidence",
    "description",
    "enabled",
)


def validate(rule: Rule) -> None:
    """Raise RuleError when a rule is inconsistent (unknown measure, condition, window, thresholds)."""
    if not rule.name or not isinstance(rule.name, str):
        raise RuleError("name", "a rule needs a name")
    m = rule.measure
    if m == STALE:
        if rule.condition != "above":
            raise RuleError("condition", "the stale rule's condition is 'above' (seconds)")
    elif m == ALL:
        if rule.condition != "change":
            raise RuleError("condition", "measure '*' only takes condition 'change'")
    elif m not in BY_ID:
        raise RuleError(
            "measure", f"unknown measure {m!r}; use pillar.key as in the README (e.g. pay.gmv)"
        )
    if rule.condition not in CONDITIONS:
        raise RuleError("condition", f"condition must be one of {', '.join(CONDITIONS)}")
    if rule.window not in RANGES:
        raise RuleError("window", f"window must be one of {', '.join(RANGES)}")
    if rule.warning is None and rule.critical is None:
        raise RuleError(None, "a rule needs a warning or a critical threshold (or both)")
    for key in ("warning", "critical"):
        v = getattr(rule, key)
        if v is not None and (
            isinstance(v, bool) or not isinstance(v, int | float) or math.isnan(v)
        ):
            raise RuleError(key, "must be a number")
    if rule.condition == "change" and any(t < 0 for t in rule.thresholds):
        raise RuleError("warning", "change thresholds are percentages >= 0")
    if rule.warning is not None and rule.critical is not None:
        low = rule.condition == "below"
        if (low and rule.critical > rule.warning) or (not low and rule.critical < rule.warning):
            side = "below" if low else "above"
            raise RuleError(
                "critical",
                f"critical ({rule.critical:g}) must be {side} or equal to warning ({rule.warning:g})",
                related=("warning",),
            )
    if isinstance(rule.min_volume, bool) or not isinstance(rule.min_volume, int | float):
        raise RuleError("min_volume", "must be a number")
    if rule.min_volume < 0:
        raise RuleError("min_volume", "must be >= 0")
    c = rule.confidence
    if isinstance(c, bool) or not isinstance(c, int | float) or not 0 <= c < 1:
        raise RuleError("confidence", "must be a number from 0 (off) up to, not including, 1")


def default_rules() -> list[Rule]:
    """The rules every install starts with (issue #3): override any by name in the config file.

    Thresholds are chosen so that the healthy generated data is OK in every window of the file.
    A rule whose measure this build's catalogue lacks is left out rather than breaking every command.
    """
    specs: list[dict[str, Any]] = [
        dict(
            name="pay_success_rate",
            measure="pay.success_rate",
            condition="below",
            warning=0.993,
            critical=0.99,
            window="15m",
            description="Pay success rate (paid / attempts) below 99.3% / 99%",
        ),
        dict(
            name="pay_refund_rate",
            measure="pay.refund_rate",
            condition="above",
            warning=0.05,
            critical=0.10,
            window="24h",
            description="Pay refunded amount / GMV above 5% / 10%",
        ),
        dict(
            name="mp_refund_rate",
            measure="mini_programs.refund_rate",
            condition="above",
            warning=0.06,
            critical=0.12,
            window="24h",
            description="Mini Program refunded amount / GMV above 6% / 12%",
        ),
        dict(
            name="payscore_bad_debt_rate",
            measure="pay_score.bad_debt_rate",
            condition="above",
            warning=0.03,
            critical=0.05,
            window="24h",
            description="Pay Score orders unpaid 30 days after completion above 3% / 5%",
        ),
        dict(
            name="stale",
            measure=STALE,
            condition="above",
            critical=300,
            description="live data has not arrived for more than 5 minutes",
        ),
        dict(
            name="week_over_week",
            measure=ALL,
            condition="change",
            critical=50,
            window="15m",
            min_volume=200,
            description="a headline measure is more than 50% above or below the same window a week "
            "earlier (both windows with enough volume)",
        ),
    ]
    return [Rule(**d) for d in specs if d["measure"] in (STALE, ALL) or d["measure"] in BY_ID]


def rule_from_table(
    name: str, table: Mapping[str, Any], base: Rule | None = None
) -> tuple[Rule, bool]:
    """A Rule from a config table (`[alerts.NAME]`), over `base` (the rule of that name so far).

    Returns (rule, enabled). Threshold strings are accepted: "99.5%" (a fraction for below/above
    rules, percent for change rules) and durations "90s", "5m", "1h" for the stale rule; `false`
    removes a threshold. Raises RuleError naming the offending key.
    """
    for key in table:
        if key not in RULE_KEYS:
            raise RuleError(key, f"unknown key (known: {', '.join(RULE_KEYS)})")
    fields: dict[str, Any] = asdict(base) if base else {}
    fields["name"] = name
    if base is None:
        for key in ("measure", "condition"):
            if key not in table:
                raise RuleError(None, f"a new rule needs '{key}'")
    for key in ("measure", "condition", "window", "description"):
        if key in table:
            if not isinstance(table[key], str):
                raise RuleError(key, f"expected a string, got {_type_name(table[key])}")
            fields[key] = table[key].strip() if key != "description" else table[key]
    if "window" in fields:
        fields["window"] = fields["window"].lower()
    if "min_volume" in table:
        fields["min_volume"] = _number(table["min_volume"], "min_volume")
    if "confidence" in table:
        v = table["confidence"]
        if isinstance(v, str) and v.strip().endswith("%"):
            try:
                v = float(v.strip()[:-1]) / 100
            except ValueError:
                raise RuleError("confidence", f"expected a number, got {v!r}") from None
        fields["confidence"] = _number(v, "confidence")
    measure = fields.get("measure")
    condition = fields.get("condition")
    for key in ("warning", "critical"):
        if key in table:  # false removes a threshold the rule had
            v = table[key]
            fields[key] = None if v is False else _threshold(v, key, measure, condition)
    enabled = table.get("enabled", True)
    if not isinstance(enabled, bool):
        raise RuleError("enabled", f"expected true or false, got {_type_name(enabled)}")
    try:
        return Rule(**fields), enabled
    except TypeError as exc:  # pragma: no cover - every field is checked above
        raise RuleError(None, str(exc)) from None


def _type_name(v: Any) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a float", str: "a string"}
    for t, n in names.items():
        if type(v) is t:
            return f"{n} ({v!r})"
    if isinstance(v, dict):
        return "a table"
    if isinstance(v, list):
        return "an array"
    return type(v).__name__


def _number(v: Any, key: str) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise RuleError(key, f"expected a number, got {_type_name(v)}")
    return v


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h)?\s*$")


def _threshold(v: Any, key: str, measure: str | None, condition: str | None) -> float:
    if isinstance(v, str):
        text = v.strip()
        if measure == STALE:
            m = _DURATION.match(text)
            if not m:
                raise RuleError(key, f"expected seconds or a duration like '5m', got {v!r}")
            return float(m.group(1)) * {"s": 1, "m": 60, "h": 3600, None: 1}[m.group(2)]
        if text.endswith("%"):
            try:
                pct = float(text[:-1])
            except ValueError:
                raise RuleError(key, f"expected a number or a percentage, got {v!r}") from None
            return pct if condition == "change" else pct / 100
        raise RuleError(key, f"expected a number or a percentage like '99.5%', got {v!r}")
    return _number(v, key)


@dataclass(frozen=True)
class AlertResult:
    """What one rule says about one measure now.

    value: the measure now (rates as fractions, money as Decimal, stale in seconds), None without data.
    threshold: the threshold crossed, else the nearest one (warning before critical).
    reference: the week-earlier value for change rules. change: percent change for change rules.
    volume / reference_volume: the counts behind the measure in the windows judged.
    """

    rule: Rule
    state: State
    measure: str
    value: Any
    threshold: float | None
    message: str
    reference: Any = None
    change: float | None = None
    volume: float | None = None
    reference_volume: float | None = None

    def line(self) -> str:
        """`OK pay.success_rate 99.51% (limit 99.50%)`: one line for a terminal or a plugin."""
        return f"{self.state.name} {self.measure} {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule.name,
            "state": self.state.name,
            "measure": self.measure,
            "condition": self.rule.condition,
            "window": None if self.measure == STALE else self.rule.window,
            "value": _json(self.value),
            "threshold": self.threshold,
            "warning": self.rule.warning,
            "critical": self.rule.critical,
            "reference": _json(self.reference),
            "change": None if self.change is None else round(self.change, 4),
            "volume": _json(self.volume),
            "reference_volume": _json(self.reference_volume),
            "message": self.message,
        }


def _json(v: Any) -> Any:
    if isinstance(v, Decimal):
        return float(v)
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def worst(results: Iterable[AlertResult | State]) -> State:
    """The state that wins: CRITICAL > WARNING > UNKNOWN > OK (OK when there is nothing)."""
    states = [r if isinstance(r, State) else r.state for r in results]
    return max(states, key=lambda s: s.severity, default=State.OK)


def by_measure(results: Iterable[AlertResult]) -> dict[str, AlertResult]:
    """The worst result per measure id (for marking dashboard tiles); ties keep the first."""
    out: dict[str, AlertResult] = {}
    for r in results:
        if r.measure not in out or r.state.severity > out[r.measure].state.severity:
            out[r.measure] = r
    return out


@dataclass
class _Windows:
    """kpis per window key, computed on first use: each window once per evaluate()."""

    cur: Any
    as_of: datetime
    live: bool
    now: datetime
    user_windows: set[str] = field(default_factory=set)  # windows whose rules need distinct users
    sets: dict[tuple[str, bool], KpiSet] = field(default_factory=dict)

    def get(self, window: str, week_earlier: bool = False) -> KpiSet:
        key = (window, week_earlier)
        if key not in self.sets:
            end = self.as_of - WEEK if week_earlier else self.as_of
            kw: dict[str, Any] = {"as_of": end, "live": self.live, "now": self.now}
            if window not in self.user_windows and _kpis_can_skip_users():
                kw["users"] = False  # the distinct-user query is most of a long window's cost
            self.sets[key] = kpis(self.cur, window, **kw)
        return self.sets[key]


def _kpis_can_skip_users() -> bool:
    """True when queries.kpis takes `users=False` (skip distinct users; their measures are None)."""
    import inspect

    try:
        return "users" in inspect.signature(kpis).parameters
    except (TypeError, ValueError):
        return False


def _needs_users(rule: Rule) -> bool:
    """Whether a rule reads a distinct-user measure (its own or the volume behind it)."""
    if rule.measure == ALL:
        return True
    if rule.measure == STALE:
        return False
    ids = (rule.measure, volume_of(rule.measure))
    return any(BY_ID[i].users for i in ids if i in BY_ID)


def evaluate(
    cur: Any,
    rules: Iterable[Rule],
    *,
    as_of: datetime | None = None,
    live: bool = False,
    now: datetime | None = None,
) -> list[AlertResult]:
    """Judge `rules` on the data behind `cur`; one result per rule, per measure for `*` rules.

    `as_of` defaults to `resolve_as_of(cur, live, now)` (the minute after the wall clock when live,
    else the minute after the newest data); `now` defaults to the wall clock and is what the stale
    rule measures against. Each distinct rule window is computed once, and once a week earlier
    when a change rule needs it.
    """
    now = now or datetime.now(UTC)
    rules = list(rules)
    newest = newest_as_of(cur) if any(r.measure == STALE for r in rules) or as_of is None else None
    if as_of is None:
        as_of = resolve_as_of(cur, live, now) if live else newest
    if as_of is None:  # an empty file
        as_of = resolve_as_of(cur, True, now)
    wins = _Windows(cur, as_of, live, now, {r.window for r in rules if _needs_users(r)})
    out: list[AlertResult] = []
    for rule in rules:
        if rule.measure == STALE:
            out.append(_stale(rule, newest, live, now))
        elif rule.measure == ALL:
            for m in MEASURES:
                if m.headline and m.id not in NO_CHANGE_RULE and volume_of(m.id) is not None:
                    out.append(_judge(rule, m.id, wins))
        else:
            out.append(_judge(rule, rule.measure, wins))
    return out


def volume_of(measure_id: str) -> str | None:
    """The id of the count behind a measure (see VOLUME), or None when it has none."""
    if measure_id in VOLUME:
        return VOLUME[measure_id]
    m = BY_ID.get(measure_id)
    if m is None:
        pillar = measure_id.split(".", 1)[0]
    elif m.kind == "count":
        return m.id
    else:
        pillar = m.pillar
    return next((c.id for c in MEASURES if c.pillar == pillar and c.kind == "count"), None)


def _lookup(ks: KpiSet, measure_id: str) -> tuple[MeasureDef | None, Any, bool]:
    """(definition, value, known) of a measure in a KpiSet."""
    try:
        m = ks.get(measure_id)
    except (KeyError, ValueError):
        return BY_ID.get(measure_id), None, False
    return m.definition, m.value, True


def _judge(rule: Rule, measure_id: str, wins: _Windows) -> AlertResult:
    ks = wins.get(rule.window)
    mdef, value, known = _lookup(ks, measure_id)
    if not known:
        return _result(
            rule, State.UNKNOWN, measure_id, None, None, "not a measure of this ecotop build"
        )
    vol_id = volume_of(measure_id)
    volume = _as_float(_lookup(ks, vol_id)[1]) if vol_id else None
    if rule.condition == "change":
        return _change(rule, measure_id, mdef, value, volume, vol_id, wins)
    if value is None or (vol_id is not None and not volume):
        return _result(
            rule,
            State.UNKNOWN,
            measure_id,
            value,
            _nearest(rule),
            f"no data in the last {rule.window}",
            volume=volume,
        )
    if vol_id is not None and rule.min_volume and volume < rule.min_volume:
        return _result(
            rule,
            State.OK,
            measure_id,
            value,
            _nearest(rule),
            f"{fmt_value(mdef, value)} not judged: {_fmt_count(volume)} {_vol_label(vol_id)} "
            f"in {rule.window} (< {_fmt_count(rule.min_volume)})",
            volume=volume,
        )
    v = float(value)
    n = None
    if mdef is not None and mdef.kind == "rate" and rule.confidence > 0 and volume is not None:
        n = volume / DESIGN_EFFECT.get(measure_id, 1.0)
    state, threshold = _compare(rule, v, n)
    text = f"{fmt_value(mdef, value)} ({_limit_text(rule, state)} {fmt_value(mdef, threshold)}"
    plain, past = _compare(rule, v)
    if plain.severity > state.severity:  # past a threshold, but within this window's noise
        text += (
            f"; past {fmt_value(mdef, past)} within the noise of {_fmt_count(volume)} "
            f"{_vol_label(vol_id)}"
        )
    return _result(rule, state, measure_id, value, threshold, text + ")", volume=volume)


def _compare(rule: Rule, v: float, n: float | None = None) -> tuple[State, float | None]:
    """The state of value `v`; with `n` (a rate's volume) a threshold counts as crossed only when
    a binomial sample of n at the threshold's rate would show `v` with probability < 1 - confidence."""

    def crossed(t: float | None) -> bool:
        if t is None:
            return False
        past = v < t if rule.condition == "below" else v > t
        if not past or n is None:
            return past
        # The "bad" side as a share: failures below a success-rate floor, refunds above a ceiling.
        q, q0 = (1 - v, 1 - t) if rule.condition == "below" else (v, t)
        return binomial_tail(n, q0, q * n) < 1 - rule.confidence

    if crossed(rule.critical):
        return State.CRITICAL, rule.critical
    if crossed(rule.warning):
        return State.WARNING, rule.warning
    return State.OK, _nearest(rule)


def binomial_tail(n: float, p: float, k: float) -> float:
    """P(X >= k) for X ~ Binomial(round(n), p), k rounded to a count: the exact sum of the tail
    (a few standard deviations of terms), or normal with a continuity correction for huge n."""
    n_i, k_i = int(round(n)), int(round(k))
    if k_i <= 0:
        return 1.0
    if k_i > n_i or p <= 0:
        return 0.0
    if p >= 1:
        return 1.0
    if n_i * p * (1 - p) >= 100_000:  # skew is negligible; the exact sum would be long
        z = (k_i - 0.5 - n_i * p) / math.sqrt(n_i * p * (1 - p))
        return 0.5 * math.erfc(z / math.sqrt(2))
    # Exact: sum the pmf from k upward (terms shrink past the mode, so stop when negligible).
    log_p, log_q = math.log(p), math.log1p(-p)
    lg_n = math.lgamma(n_i + 1)
    total = 0.0
    for i in range(k_i, n_i + 1):
        term = math.exp(
            lg_n - math.lgamma(i + 1) - math.lgamma(n_i - i + 1) + i * log_p + (n_i - i) * log_q
        )
        total += term
        if i > n_i * p and term < total * 1e-12:
            break
    return min(1.0, total)


def _nearest(rule: Rule) -> float | None:
    return rule.warning if rule.warning is not None else rule.critical


def _limit_text(rule: Rule, state: State) -> str:
    if state == State.CRITICAL:
        return "critical"
    if state == State.WARNING:
        return "warning"
    return "limit"


def _change(
    rule: Rule,
    measure_id: str,
    mdef: MeasureDef | None,
    value: Any,
    volume: float | None,
    vol_id: str | None,
    wins: _Windows,
) -> AlertResult:
    ref_ks = wins.get(rule.window, week_earlier=True)
    reference = _lookup(ref_ks, measure_id)[1]
    ref_volume = _as_float(_lookup(ref_ks, vol_id)[1]) if vol_id else None
    limit = _nearest(rule)
    # A rate rests on its rarer outcome (shares among reads, failures among attempts): that count
    # sets its noise, so that is what must reach min_volume.
    rate = mdef is not None and mdef.kind == "rate"
    de = DESIGN_EFFECT.get(measure_id, 1.0)
    eff, ref_eff = _rests_on(value, volume, rate, de), _rests_on(reference, ref_volume, rate, de)
    lowest = min(eff or 0, ref_eff or 0) if vol_id else math.inf
    if lowest < rule.min_volume or value is None or reference is None:
        if rate and vol_id:
            basis = (
                f"the rate rests on {_fmt_count(eff)} of {_fmt_count(volume)} {_vol_label(vol_id)} "
                f"now, {_fmt_count(ref_eff)} of {_fmt_count(ref_volume)} a week earlier"
            )
        elif de != 1.0 and vol_id:
            basis = (
                f"{_fmt_count(volume)} {_vol_label(vol_id)} now, {_fmt_count(ref_volume)} a week "
                f"earlier, worth {_fmt_count(eff)} and {_fmt_count(ref_eff)} for amounts this lumpy"
            )
        else:
            basis = (
                f"{_fmt_count(volume)} {_vol_label(vol_id)} now, {_fmt_count(ref_volume)} a week "
                "earlier"
            )
        return _result(
            rule,
            State.OK,
            measure_id,
            value,
            limit,
            f"{fmt_value(mdef, value)} not compared: {basis} (< {_fmt_count(rule.min_volume)})",
            reference=reference,
            volume=volume,
            reference_volume=ref_volume,
        )
    ref = float(reference)
    if ref == 0:
        change = 0.0 if float(value) == 0 else math.inf
    else:
        change = (float(value) - ref) / abs(ref) * 100.0
    state, threshold = State.OK, limit
    if rule.critical is not None and abs(change) > rule.critical:
        state, threshold = State.CRITICAL, rule.critical
    elif rule.warning is not None and abs(change) > rule.warning:
        state, threshold = State.WARNING, rule.warning
    return _result(
        rule,
        state,
        measure_id,
        value,
        threshold,
        f"{fmt_value(mdef, value)} {change:+.1f}% vs {fmt_value(mdef, reference)} a week earlier "
        f"({_limit_text(rule, state)} ±{threshold:g}%)",
        reference=reference,
        change=change,
        volume=volume,
        reference_volume=ref_volume,
    )


def _rests_on(value: Any, volume: float | None, rate: bool, de: float = 1.0) -> float | None:
    """The count a value rests on: the volume (over the design effect `de`), or for a rate the
    count of its rarer outcome."""
    if volume is None:
        return None
    if not rate or value is None:
        return round(volume / de)
    f = min(1.0, max(0.0, float(value)))
    return round(volume * min(f, 1 - f) / de)


def _stale(rule: Rule, newest: datetime | None, live: bool, now: datetime) -> AlertResult:
    limit = _nearest(rule)
    if not live:
        return _result(rule, State.OK, STALE, None, limit, "not judged: the data is not live")
    if newest is None:
        return _result(
            rule,
            State.CRITICAL if rule.critical is not None else State.WARNING,
            STALE,
            None,
            rule.critical if rule.critical is not None else rule.warning,
            "no data has arrived",
        )
    age = max(0.0, (now - newest).total_seconds())
    state, threshold = _compare(rule, age)
    label = "no new data for" if state != State.OK else "newest data"
    suffix = " ago" if state == State.OK else ""
    return _result(
        rule,
        state,
        STALE,
        age,
        threshold,
        f"{label} {fmt_duration(age)}{suffix} ({_limit_text(rule, state)} "
        f"{fmt_duration(threshold)})",
    )


def _result(
    rule: Rule,
    state: State,
    measure: str,
    value: Any,
    threshold: float | None,
    message: str,
    **extra: Any,
) -> AlertResult:
    return AlertResult(rule, state, measure, value, threshold, message, **extra)


def _as_float(v: Any) -> float | None:
    return None if v is None else float(v)


def _vol_label(vol_id: str | None) -> str:
    if vol_id is None:
        return "events"
    m = BY_ID.get(vol_id)
    return m.label if m else vol_id.split(".", 1)[1]


def _fmt_count(v: float | None) -> str:
    if v is None:
        return "0"
    return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.2f}"


def fmt_duration(seconds: float | None) -> str:
    """90 -> '1m 30s', 300 -> '5m', 7200 -> '2h'."""
    if seconds is None:
        return "—"
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    parts = [f"{h}h" if h else "", f"{m}m" if m else "", f"{sec}s" if sec else ""]
    return " ".join(p for p in parts if p) or "0s"


def fmt_value(mdef: MeasureDef | None, v: Any) -> str:
    """A measure's value in its unit: rates as percentages (99.95% never shows as 100%), money in CNY."""
    if v is None:
        return "—"
    kind = mdef.kind if mdef else "number"
    f = float(v)
    if kind == "rate":
        return f"{f * 100:.2f}%" if f < 0.9995 or f >= 1 else f"{math.floor(f * 10000) / 100:.2f}%"
    if kind == "money":
        return f"CNY {f:,.2f}"
    if kind == "count":
        return f"{f:,.0f}"
    return f"{f:,.2f}"
