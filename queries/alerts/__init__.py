"""Alert rules over the headline measures: one set of rules for the dashboard and `ecotop check`.

In three parts: `rules` (what a rule is, the defaults, reading rules from config), `evaluation`
(judging rules from the bounded state, off the refresh path: `evaluate`, `worst`, `by_measure`) and
`format` (how values read). Every public name is importable from here.

Nothing here imports Textual or duckdb: callers pass a DuckDB cursor from `store`.
"""

from ecotop.queries.alerts.evaluation import (
    AlertResult,
    binomial_tail,
    by_measure,
    evaluate,
    volume_of,
    worst,
)
from ecotop.queries.alerts.format import fmt_duration, fmt_value
from ecotop.queries.alerts.rules import (
    ALL,
    CONDITIONS,
    DESIGN_EFFECT,
    NO_CHANGE_RULE,
    RULE_KEYS,
    STALE,
    VOLUME,
    WEEK,
    Rule,
    RuleError,
    State,
    default_rules,
    rule_from_table,
    validate,
)

__all__ = [
    "ALL",
    "CONDITIONS",
    "DESIGN_EFFECT",
    "NO_CHANGE_RULE",
    "RULE_KEYS",
    "STALE",
    "VOLUME",
    "WEEK",
    "AlertResult",
    "Rule",
    "RuleError",
    "State",
    "binomial_tail",
    "by_measure",
    "default_rules",
    "evaluate",
    "fmt_duration",
    "fmt_value",
    "rule_from_table",
    "validate",
    "volume_of",
    "worst",
]
