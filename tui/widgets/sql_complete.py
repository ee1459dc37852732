"""What the console suggests while typing: tables, columns, functions and keywords.

`Catalog` is what the database offers (read once, in a worker, by `read_catalog(cur)` from
`duckdb_tables()`, `duckdb_views()`, `duckdb_columns()`, `duckdb_functions()` and
`duckdb_keywords()`); `Completer` turns the text before the cursor into ranked suggestions. Pure Python:
no Textual here, so the ranking is tested on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ecotop.tui.widgets.sql_text import table_aliases, word_before

# Enough to complete without a catalog (before it is read, or if reading it failed).
BASE_KEYWORDS = [
    "select",
    "from",
    "where",
    "group",
    "by",
    "order",
    "by",
    "having",
    "limit",
    "offset",
    "join",
    "left",
    "join",
    "inner",
    "join",
    "on",
    "using",
    "as",
    "and",
    "or",
    "not",
    "in",
    "is",
    "null",
    "between",
    "like",
    "ilike",
    "distinct",
    "case",
    "when",
    "then",
    "else",
    "end",
    "with",
    "union",
    "all",
    "except",
    "intersect",
    "asc",
    "desc",
    "count",
    "sum",
    "avg",
    "min",
    "max",
    "over",
    "partition",
    "qualify",
    "describe",
    "summarize",
    "show",
    "tables",
    "explain",
    "values",
    "cast",
    "date_trunc",
    "interval",
    "true",
    "false",
]


@dataclass(frozen=True)
class Candidate:
    """One suggestion: the text inserted, its kind, and a detail shown beside it (a type)."""

    text: str
    kind: str  # "table", "view", "column", "function", "keyword"
    detail: str = ""


@dataclass
class Catalog:
    """Tables (and views) with their columns and types, plus functions and keywords."""

    tables: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    views: set[str] = field(default_factory=set)
    functions: dict[str, str] = field(default_factory=dict)  # name -> kind (scalar, aggregate, ...)
    keywords: list[str] = field(default_factory=list)
    schemas: dict[str, str] = field(default_factory=dict)  # table -> schema

    @property
    def loaded(self) -> bool:
        return bool(self.tables or self.functions)


_HIDDEN_SCHEMAS = ("information_schema", "pg_catalog")

_CATALOG_SQL = {
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


def read_catalog(cur: Any) -> Catalog:
    """Read what the database offers on a cursor (run in a worker thread, once)."""
    cat = Catalog()
    for table, column, dtype, schema in cur.execute(_CATALOG_SQL["columns"]).fetchall():
        if schema in _HIDDEN_SCHEMAS:
            continue
        cat.tables.setdefault(table, []).append((column, dtype))
        cat.schemas.setdefault(table, schema)
    cat.views = {r[0] for r in cur.execute(_CATALOG_SQL["views"]).fetchall()}
    for name, kind in cur.execute(_CATALOG_SQL["functions"]).fetchall():
        if name.startswith("__") or not name.replace("_", "").isalnum():
            continue
        cat.functions.setdefault(name, kind)
    cat.keywords = sorted({r[0].lower() for r in cur.execute(_CATALOG_SQL["keywords"]).fetchall()})
    return cat


class Completer:
    """Suggestions for the identifier being typed, best first."""

    def __init__(self, catalog: Catalog | None = None, limit: int = 50) -> None:
        self.catalog = catalog or Catalog()
        self.limit = limit

    def complete(self, before: str, statement: str = "") -> tuple[str, list[Candidate]]:
        """(prefix being replaced, candidates) for the text `before` the cursor.

        After `x.`, only the columns of table (or alias) x. Otherwise tables, then the columns of the
        tables the statement names, then other columns, functions and keywords — each group by
        exact-prefix match first.
        """
        qual, prefix = word_before(before)
        low = prefix.lower()
        cat = self.catalog
        tables_lower = {t.lower(): t for t in cat.tables}
        if qual is not None:
            aliases = table_aliases(statement or before)
            table = tables_lower.get(aliases.get(qual.lower(), qual.lower()))
            if table is None:
                return prefix, []
            cols = [Candidate(c, "column", t) for c, t in cat.tables[table]]
            return prefix, self._rank(cols, low)
        if not prefix:
            return prefix, []
        in_statement = {
            tables_lower[t]
            for t in table_aliases(statement or before).values()
            if t in tables_lower
        }
        out: list[Candidate] = []
        seen: set[str] = set()

        def add(cands: list[Candidate]) -> None:
            for c in cands:
                key = c.text.lower()
                if key not in seen and key != low:
                    seen.add(key)
                    out.append(c)

        add(
            self._rank(
                [Candidate(t, "view" if t in cat.views else "table") for t in cat.tables], low
            )
        )
        add(
            self._rank(
                [Candidate(c, "column", ty) for t in in_statement for c, ty in cat.tables[t]], low
            )
        )
        keywords = cat.keywords or BASE_KEYWORDS
        add(self._rank([Candidate(k, "keyword") for k in keywords], low))
        add(self._rank([Candidate(f, "function", k) for f, k in cat.functions.items()], low))
        add(
            self._rank(
                [
                    Candidate(c, "column", f"{t}.{ty}")
                    for t, cols in cat.tables.items()
                    if t not in in_statement
                    for c, ty in cols
                ],
                low,
            )
        )
        return prefix, out[: self.limit]

    @staticmethod
    def _rank(cands: list[Candidate], low: str) -> list[Candidate]:
        starts = [c for c in cands if c.text.lower().startswith(low)]
        starts.sort(key=lambda c: (len(c.text), c.text))
        if len(low) < 3:
            return starts
        inside = [c for c in cands if low in c.text.lower() and not c.text.lower().startswith(low)]
        inside.sort(key=lambda c: (len(c.text), c.text))
        return starts + inside
