"""What the console suggests while typing: tables, columns, functions and keywords.

`Catalog` is what the database offers (`queries.catalogue.Catalogue`, read once by a screen's worker
through the gateway; this widget never runs SQL); `Completer` turns the text before the cursor into ranked suggestions. Pure Python:
no Textual here, so the ranking is tested on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from ecotop.queries.catalogue import Catalogue as Catalog
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
