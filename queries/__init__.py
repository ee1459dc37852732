"""ecotop's named queries: every panel's SQL as `queries/<pillar>/<name>.sql`, and the measures.

Nothing here imports Textual or duckdb: callers pass a DuckDB cursor from `store`.
"""

from queries.kpis import KpiSet, Measure, kpis, resolve_as_of
from queries.measures import MEASURES, PILLARS, MeasureDef
from queries.registry import Query, get, registry
from queries.windows import RANGES, Window, next_range, parse_range, window

__all__ = [
    "MEASURES",
    "PILLARS",
    "RANGES",
    "KpiSet",
    "Measure",
    "MeasureDef",
    "Query",
    "Window",
    "get",
    "kpis",
    "next_range",
    "parse_range",
    "registry",
    "resolve_as_of",
    "window",
]
