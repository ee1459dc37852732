"""Judging alert rules from the bounded state (`queries.kpis`), off the refresh path.

`evaluate()` computes each distinct rule window once with `queries.kpis` (and once more a week
earlier for change rules; without the distinct-user query for windows whose rules read no user
measure) and returns one `AlertResult` per rule and measure; `worst()` ranks states OK < UNKNOWN <
WARNING < CRITICAL, as monitoring-plugins' max_state_alt does. Everything it reads is the same
bounded state the screens read, so its cost does not grow with the window or the history: the app
calls it from a worker thread of its own (never inside a screen's refresh) and shows the last result.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from ecotop.queries.alerts.format import _fmt_count, _vol_label, fmt_duration, fmt_value
from ecotop.queries.alerts.rules import (
    ALL,
    DESIGN_EFFECT,
    NO_CHANGE_RULE,
    STALE,
    VOLUME,
    WEEK,
    Rule,
    State,
)
from ecotop.queries.kpis import KpiSet, kpis, resolve_as_of
from ecotop.queries.measures import BY_ID, MEASURES, MeasureDef
from ecotop.queries.windows import BASELINES, RANGES, live_as_of, newest_as_of

#: How a change rule's message names its baseline (`ecotop check --baseline`).
AGAINST = {"week": "a week earlier", "day": "a day earlier", "previous": "the window before"}


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
    baseline: str = (
        "week"  # what change rules compare with: week, day or previous (the window before)
    )

    @property
    def against(self) -> str:
        """The baseline in a message's words: "a week earlier"."""
        return AGAINST.get(self.baseline, "a week earlier")

    def shift(self, window: str) -> Any:
        back = BASELINES.get(self.baseline, WEEK)
        return back if back is not None else RANGES.get(window, WEEK)

    def get(self, window: str, week_earlier: bool = False) -> KpiSet:
        key = (window, week_earlier)
        if key not in self.sets:
            end = self.as_of - self.shift(window) if week_earlier else self.as_of
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
    baseline: str = "week",
) -> list[AlertResult]:
    """Judge `rules` on the data behind `cur`; one result per rule, per measure for `*` rules.

    `baseline` is what change rules compare with: `week` (the same window a week earlier, the
    rules' own meaning and the default), `day` or `previous` (the window just before).

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
        as_of = live_as_of(now)
    wins = _Windows(cur, as_of, live, now, {r.window for r in rules if _needs_users(r)})
    wins.baseline = baseline
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
    if vol_id is not None and rule.min_volume and (volume or 0.0) < rule.min_volume:
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
                f"now, {_fmt_count(ref_eff)} of {_fmt_count(ref_volume)} {wins.against}"
            )
        elif de != 1.0 and vol_id:
            basis = (
                f"{_fmt_count(volume)} {_vol_label(vol_id)} now, {_fmt_count(ref_volume)} "
                f"{wins.against}, worth {_fmt_count(eff)} and {_fmt_count(ref_eff)} for amounts "
                "this lumpy"
            )
        else:
            basis = (
                f"{_fmt_count(volume)} {_vol_label(vol_id)} now, {_fmt_count(ref_volume)} "
                f"{wins.against}"
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
        f"{fmt_value(mdef, value)} {change:+.1f}% vs {fmt_value(mdef, reference)} {wins.against} "
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
