"""Reading SQL text the way the console needs it: statements with their places in the buffer.

Pure functions (no Textual, no DuckDB): splitting a buffer into statements on `;` outside quotes,
dollar-quoted strings and comments; finding the statement under the cursor; converting between
character offsets and (row, column) locations; and reading DuckDB's error position ("LINE 1: ..." and
a caret) back into a location in the editor.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_DOLLAR = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")


@dataclass(frozen=True)
class Span:
    """One statement of a buffer: `text[start:end]`, without its `;` and outer whitespace."""

    start: int
    end: int
    text: str


def _skip_to_statement_end(sql: str, i: int) -> tuple[int, bool]:
    """From offset `i`, the offset of the next top-level `;` (or len) and whether one was found."""
    n = len(sql)
    while i < n:
        c = sql[i]
        if c in ("'", '"'):
            j = i + 1
            while j < n:
                if sql[j] == c:
                    if j + 1 < n and sql[j + 1] == c:  # doubled quote escapes itself
                        j += 2
                        continue
                    break
                j += 1
            i = j + 1
        elif c == "-" and sql.startswith("--", i):
            j = sql.find("\n", i)
            i = n if j < 0 else j + 1
        elif c == "/" and sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            i = n if j < 0 else j + 2
        elif c == "$":
            m = _DOLLAR.match(sql, i)
            if m and (i == 0 or not (sql[i - 1].isalnum() or sql[i - 1] == "_")):
                j = sql.find(m.group(0), m.end())
                i = n if j < 0 else j + len(m.group(0))
            else:
                i += 1
        elif c == ";":
            return i, True
        else:
            i += 1
    return n, False


def _is_blank(sql: str) -> bool:
    """True when `sql` holds nothing but whitespace and comments."""
    return not strip_comments(sql).strip()


def strip_comments(sql: str) -> str:
    """`sql` with `--` and `/* */` comments replaced by spaces (quotes respected, length kept)."""
    out = []
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c in ("'", '"'):
            j = sql.find(c, i + 1)
            j = n if j < 0 else j + 1
            out.append(sql[i:j])
            i = j
        elif sql.startswith("--", i):
            j = sql.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("".join("\n" if ch == "\n" else " " for ch in sql[i:j]))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _split(sql: str) -> list[tuple[Span, int]]:
    """Every non-blank statement with the offset of its terminating `;` (or len(sql))."""
    out: list[tuple[Span, int]] = []
    i, n = 0, len(sql)
    while i < n:
        end, _found = _skip_to_statement_end(sql, i)
        raw = sql[i:end]
        if not _is_blank(raw):
            lead = len(raw) - len(raw.lstrip())
            text = raw.strip()
            out.append((Span(i + lead, i + lead + len(text), text), end))
        i = end + 1
    return out


def statement_spans(sql: str) -> list[Span]:
    """Every non-blank statement of `sql`, in order."""
    return [span for span, _ in _split(sql)]


def statement_at(sql: str, offset: int) -> Span | None:
    """The statement under the cursor at `offset`.

    A statement owns the text up to and including its `;`. A cursor just after a `;` on the same
    line (only blanks between) still means that statement, and so does one after the last `;`.
    """
    parts = _split(sql)
    if not parts:
        return None
    for k, (span, term) in enumerate(parts):
        if offset <= term:
            if k > 0:
                prev_span, prev_term = parts[k - 1]
                gap = sql[prev_term + 1 : offset]
                if "\n" not in gap and _is_blank(gap) and offset < span.start:
                    return prev_span
            return span
    return parts[-1][0]


def offset_to_location(sql: str, offset: int) -> tuple[int, int]:
    """Character offset -> (row, column), both from 0."""
    offset = max(0, min(offset, len(sql)))
    row = sql.count("\n", 0, offset)
    line_start = sql.rfind("\n", 0, offset) + 1
    return row, offset - line_start


def location_to_offset(sql: str, location: tuple[int, int]) -> int:
    """(row, column) -> character offset (clamped to the text)."""
    row, col = location
    lines = sql.split("\n")
    row = max(0, min(row, len(lines) - 1))
    return sum(len(line) + 1 for line in lines[:row]) + min(col, len(lines[row]))


_LINE_RE = re.compile(r"^LINE (\d+): ?(.*)$")


def error_position(message: str, statement: str) -> int | None:
    """The character offset in `statement` that a DuckDB error message points at, if it says.

    DuckDB prints the offending line as `LINE n: <text>` and a caret line under it; the caret's
    column (less the `LINE n: ` prefix) is the column in line n of the statement. Messages cut the
    shown line to a window around the error, so the shown text is located in the statement's line.
    """
    lines = message.splitlines()
    for k, line in enumerate(lines):
        m = _LINE_RE.match(line)
        if not m or k + 1 >= len(lines):
            continue
        caret_line = lines[k + 1]
        caret = caret_line.find("^")
        if caret < 0:
            continue
        prefix = len(line) - len(m.group(2))
        col_in_shown = caret - prefix
        row = int(m.group(1)) - 1
        stmt_lines = statement.split("\n")
        if row >= len(stmt_lines) or col_in_shown < 0:
            return None
        shown = m.group(2)
        target = stmt_lines[row]
        start = target.find(shown.strip("."))
        shift = 0
        if shown.startswith("...") and start >= 0:
            shift = start - 3
        elif start > 0:
            shift = start
        col = max(0, min(len(target), col_in_shown + shift))
        return sum(len(x) + 1 for x in stmt_lines[:row]) + col
    return None


def first_line(message: str) -> str:
    """The first line of an error message (DuckDB appends the LINE/caret block after a blank)."""
    for line in message.splitlines():
        if line.strip():
            return line.strip()
    return message.strip()


_WORD_BEFORE = re.compile(r'([A-Za-z_][A-Za-z0-9_]*\.)?("?[A-Za-z_][A-Za-z0-9_]*)?$')


def word_before(text: str) -> tuple[str | None, str]:
    """The identifier being typed at the end of `text`: (qualifier or None, prefix).

    `select t.am` -> ("t", "am"); `select am` -> (None, "am"); `select t.` -> ("t", "").
    """
    m = _WORD_BEFORE.search(text[-200:])
    if not m:
        return None, ""
    qual = m.group(1)[:-1] if m.group(1) else None
    return qual, (m.group(2) or "").lstrip('"')


_FROM_RE = re.compile(
    r"\b(?:from|join)\s+((?:[A-Za-z_][A-Za-z0-9_]*\.)?[A-Za-z_][A-Za-z0-9_]*)"
    r"(?:\s+(?:as\s+)?(?!(?:where|on|using|join|left|right|inner|outer|full|cross|natural|"
    r"group|order|limit|having|union|except|intersect|window|qualify|select|as)\b)"
    r"([A-Za-z_][A-Za-z0-9_]*))?",
    re.IGNORECASE,
)


def table_aliases(statement: str) -> dict[str, str]:
    """Tables named after FROM/JOIN in `statement`: {alias or name (lower): table name (lower)}."""
    out: dict[str, str] = {}
    for m in _FROM_RE.finditer(strip_comments(statement)):
        table = m.group(1).split(".")[-1].lower()
        out.setdefault(table, table)
        if m.group(2):
            out[m.group(2).lower()] = table
    return out
