"""Alert rules: what a rule is, the defaults, and reading rules from a config table.

A `Rule` watches one measure of the catalogue (`pay.success_rate`), every headline measure (`*`), or
the special measure `stale` (seconds since the newest data, judged only when data is live). Its
condition is `below` or `above` a threshold, or `change`: more than N percent above or below the same
window a week earlier. Each rule has its own window (default 15m, whatever the screen shows) and a
minimum volume: the count behind the measure (`VOLUME`) must reach it before the rule judges, so a
quiet night of three payments and one failure is not a 67% success rate alarm. States follow the
monitoring-plugin convention (OK 0, WARNING 1, CRITICAL 2, UNKNOWN 3).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import timedelta
from enum import IntEnum
from typing import Any

from ecotop.queries.measures import BY_ID
from ecotop.queries.windows import RANGES

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
                raise RuleError(key, f"expected a string, got {type_name(table[key])}")
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
        raise RuleError("enabled", f"expected true or false, got {type_name(enabled)}")
    try:
        return Rule(**fields), enabled
    except TypeError as exc:  # pragma: no cover - every field is checked above
        raise RuleError(None, str(exc)) from None


def type_name(v: Any) -> str:
    """How a TOML value reads in an error message: `an integer (3)`, `a table`, `an array`."""
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
        raise RuleError(key, f"expected a number, got {type_name(v)}")
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
