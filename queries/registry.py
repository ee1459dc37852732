"""The registry of named queries: every `queries/<pillar>/<name>.sql`, loaded once.

Each file starts with a comment block that documents it (what it returns, its parameters). Values are
always bound as `$name` parameters, never formatted into the SQL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # DuckDB loads Arrow when a result is converted; `ecotop kpis` never converts one
    import pyarrow as pa

_PARAM = re.compile(r"(?<![:$\w])\$([a-z_][a-z0-9_]*)")


@dataclass(frozen=True)
class Query:
    """One named query: `pillar/name`, its documentation, SQL text and the parameters it binds."""

    name: str
    doc: str
    sql: str
    params: frozenset[str]

    @property
    def pillar(self) -> str:
        return self.name.split("/", 1)[0]

    def run(self, cur: Any, **params: Any) -> pa.Table:
        """Run on a DuckDB cursor with exactly this query's parameters; returns an Arrow table."""
        missing = self.params - params.keys()
        if missing:
            raise TypeError(f"query {self.name} needs parameters {sorted(missing)}")
        bound = {k: v for k, v in params.items() if k in self.params}
        if is_served_cursor(cur):  # a file served by its writer: ask for the query by name
            table: pa.Table = cur.run_named(self.name, bound)
            return table
        return cur.sql(self.sql, params=bound).to_arrow_table()

    def rows(self, cur: Any, **params: Any) -> list[dict[str, Any]]:
        """Run and return the rows as dicts of plain Python values (no Arrow on a local cursor)."""
        if is_served_cursor(cur):
            rows: list[dict[str, Any]] = self.run(cur, **params).to_pylist()
            return rows
        missing = self.params - params.keys()
        if missing:
            raise TypeError(f"query {self.name} needs parameters {sorted(missing)}")
        res = cur.execute(self.sql, {k: v for k, v in params.items() if k in self.params})
        cols = [d[0] for d in res.description]
        return [dict(zip(cols, r, strict=True)) for r in res.fetchall()]


def is_served_cursor(cur: object) -> bool:
    """True for a cursor of a file served by its writer (store.remote.RemoteCursor).

    A typed check of the one class that runs queries by name, imported only when the remote module
    is already loaded (a local file never loads Flight)."""
    import sys

    remote = sys.modules.get("ecotop.store.remote")
    return remote is not None and isinstance(cur, remote.RemoteCursor)


def _doc(text: str) -> str:
    lines = []
    for line in text.splitlines():
        if not line.startswith("--"):
            break
        lines.append(line[2:].strip())
    return "\n".join(lines).strip()


@cache
def registry() -> dict[str, Query]:
    """Every named query by `pillar/name`, read from the package once per process."""
    out: dict[str, Query] = {}
    root = resources.files("ecotop.queries")
    pillars = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith("_")]
    for pillar in sorted(pillars, key=lambda p: p.name):
        for f in sorted(pillar.iterdir(), key=lambda p: p.name):
            if not f.name.endswith(".sql"):
                continue
            text = f.read_text(encoding="utf-8")
            doc = _doc(text)
            if not doc:
                raise ValueError(f"queries/{pillar.name}/{f.name} has no leading comment")
            body = "\n".join(ln for ln in text.splitlines() if not ln.lstrip().startswith("--"))
            name = f"{pillar.name}/{f.name.removesuffix('.sql')}"
            out[name] = Query(name, doc, text, frozenset(_PARAM.findall(body)))
    return out


def get(name: str) -> Query:
    """The named query `pillar/name`; KeyError names what exists."""
    try:
        return registry()[name]
    except KeyError:
        raise KeyError(f"no query {name!r}; known: {', '.join(sorted(registry()))}") from None
