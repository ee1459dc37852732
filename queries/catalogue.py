"""What the data offers for SQL completion and the console's catalogue tree.

Read once per file, in a worker, from DuckDB's own catalogue functions (`duckdb_columns()`,
`duckdb_views()`, `duckdb_functions()`, `duckdb_keywords()`); a served file answers the same SQL
through its writer's guard.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Catalogue:
    """Tables (and views) with their columns and types, plus functions and keywords."""

    tables: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    views: set[str] = field(default_factory=set)
    functions: dict[str, str] = field(default_factory=dict)  # name -> kind (scalar, aggregate, ...)
    keywords: list[str] = field(default_factory=list)
    schemas: dict[str, str] = field(default_factory=dict)  # table -> schema

    @property
    def loaded(self) -> bool:
        """True once something was read (completion works without it, from keywords alone)."""
        return bool(self.tables or self.functions)


_HIDDEN_SCHEMAS = ("information_schema", "pg_catalog")

_CATALOGUE_SQL = {
    "columns": (
        "SELECT table_name, column_name, data_type, schema_name FROM duckdb_columns() "
        "WHERE NOT internal AND database_name = current_database() "
        "ORDER BY schema_name, table_name, column_index"
    ),
    "views": (
        "SELECT view_name FROM duckdb_views() "
        "WHERE NOT internal AND database_name = current_database()"
    ),
    "functions": (
        "SELECT DISTINCT function_name, function_type FROM duckdb_functions() "
        "WHERE function_type IN ('scalar', 'aggregate', 'macro', 'table', 'table_macro')"
    ),
    "keywords": "SELECT keyword_name FROM duckdb_keywords() WHERE keyword_category <> 'type_function'",
}


def read_catalogue(cur: Any) -> Catalogue:
    """Read what the database offers on a gateway cursor (a worker thread, once per file)."""
    cat = Catalogue()
    for table, column, dtype, schema in cur.execute(_CATALOGUE_SQL["columns"]).fetchall():
        if schema in _HIDDEN_SCHEMAS:
            continue
        cat.tables.setdefault(table, []).append((column, dtype))
        cat.schemas.setdefault(table, schema)
    cat.views = {r[0] for r in cur.execute(_CATALOGUE_SQL["views"]).fetchall()}
    for name, kind in cur.execute(_CATALOGUE_SQL["functions"]).fetchall():
        if name.startswith("__") or not name.replace("_", "").isalnum():
            continue
        cat.functions.setdefault(name, kind)
    keywords = cur.execute(_CATALOGUE_SQL["keywords"]).fetchall()
    cat.keywords = sorted({r[0].lower() for r in keywords})
    return cat
