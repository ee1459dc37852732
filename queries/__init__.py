"""ecotop's named queries: every panel's SQL as `queries/<pillar>/<name>.sql`, and the measures.

Nothing here imports Textual or duckdb: callers pass a DuckDB cursor from `store`.
"""

from ecotop.queries.kpis import FileInfo, KpiSet, Measure, file_info, kpis, resolve_as_of
from ecotop.queries.measures import MEASURES, PILLARS, MeasureDef
from ecotop.queries.registry import Query, get, registry
from ecotop.queries.views import (
    PILLAR_VIEWS,
    TREND_PROXIES,
    PillarData,
    buckets_for,
    latest_event,
    pillar_view,
    trends,
)
from ecotop.queries.windows import RANGES, Window, next_range, parse_range, window

__all__ = [
    "MEASURES",
    "PILLARS",
    "PILLAR_VIEWS",
    "RANGES",
    "TREND_PROXIES",
    "FileInfo",
    "KpiSet",
    "Measure",
    "MeasureDef",
    "PillarData",
    "Query",
    "Window",
    "buckets_for",
    "file_info",
    "get",
    "kpis",
    "latest_event",
    "next_range",
    "parse_range",
    "pillar_view",
    "registry",
    "resolve_as_of",
    "trends",
    "window",
]
