"""What a spool file's load says: its problems (line, field, message), the Rejected error, the
per-file result, and the SQL text helpers the other parts share (identifiers and constants of our
own, never values from files).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ecotop.store.spool_format import (
    INSERT_ORDER,
    KINDS,
)

MAX_PROBLEMS = 20

# Up to this many ids, look them up through the primary-key index (DuckDB turns an IN list of
# constants into an index scan up to its index_scan_max_count, 2048) instead of scanning the table.
INDEX_LOOKUP_MAX = 2048
_SEP = "\x1e"  # between the problems of one row
_SEP_SQL = "chr(30)"

assert sorted(INSERT_ORDER) == sorted(k for k, v in KINDS.items() if not v.update)


# -- results and problems --------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """Why a file is rejected: a line (row for Parquet; 0 = the whole file), a field and a message."""

    line: int
    field: str
    message: str

    def text(self, unit: str = "line") -> str:
        where = f"{unit} {self.line}" if self.line > 0 else "file"
        if self.field:
            return f"{where}, field {self.field}: {self.message}"
        return f"{where}: {self.message}"


class Rejected(Exception):
    """The file cannot be loaded; `problems` say where and why (`total` counts them all)."""

    def __init__(self, problems: list[Problem], total: int | None = None, unit: str = "line"):
        problems = sorted(problems, key=lambda p: p.line)
        super().__init__(problems[0].text(unit) if problems else "rejected")
        self.problems = problems[:MAX_PROBLEMS]
        self.total = max(total or 0, len(problems))
        self.unit = unit


@dataclass
class FileResult:
    """What happened to one spool file."""

    name: str
    outcome: str  # ingested | duplicate | rejected
    rows: int = 0
    size: int = 0
    checksum: str = ""
    kinds: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    total_problems: int = 0
    unit: str = "line"
    elapsed_s: float = 0.0
    moved_to: Path | None = None


# -- SQL text helpers (identifiers and constants of our own, never values from files) -------------


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _sql_list(items: Iterable[str]) -> str:
    return "[" + ", ".join(_sql_str(i) for i in items) + "]"


def _int_list(ids: Iterable[int]) -> str:
    """A SQL list of integer constants (ids read back from typed BIGINT columns, never text)."""
    return ", ".join(str(int(i)) for i in ids) or "NULL"
