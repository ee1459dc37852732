"""The guard's errors: one line each, keeping the position DuckDB reported."""

from __future__ import annotations

import re
from typing import Any

import duckdb

from ecotop.store.errors import SqlError, SqlRefused

__all__ = ["SqlCancelled", "refuse", "shift", "sql_error", "tokens"]


def tokens(text: str) -> list[tuple[int, Any]]:
    """DuckDB's tokens of `text` as (character offset, kind); comments are not tokens.

    duckdb.tokenize reports UTF-8 byte offsets: converted here, or any non-ASCII text before a
    token (a Chinese merchant name) would shift every later position.
    """
    raw = duckdb.tokenize(text)
    data = text.encode()
    if len(data) == len(text):
        return [(pos, kind) for pos, kind in raw if kind != duckdb.token_type.comment]
    out: list[tuple[int, Any]] = []
    for pos, kind in raw:
        if kind != duckdb.token_type.comment:
            out.append((len(data[:pos].decode(errors="ignore")), kind))
    return out


class SqlCancelled(SqlError):
    """The statement was cancelled (`cur.interrupt()` from another thread)."""


def refuse(index: int, statement: str, reason: str) -> SqlRefused:
    """A one-line refusal of statement `index` (1-based) naming it and why."""
    short = _short(statement)
    err = SqlRefused(f"refused statement {index} ({short}): {reason}; ad-hoc SQL only reads")
    err.index = index  # type: ignore[attr-defined]
    err.statement = statement  # type: ignore[attr-defined]
    err.reason = reason  # type: ignore[attr-defined]
    return err


def _short(statement: str, width: int = 60) -> str:
    text = " ".join(_strip_comments(statement).split()).strip().strip(";").strip()
    return text if len(text) <= width else text[: width - 1] + "…"


_COMMENT = re.compile(r"--[^\n]*|/\*.*?\*/", re.S)


def _strip_comments(sql: str) -> str:
    # DuckDB's tokenizer skips comments: keep the text from each token to the next, minus comments
    # that start inside those gaps.
    out: list[str] = []
    try:
        found = tokens(sql)
    except Exception:
        return sql
    quoted = (duckdb.token_type.string_const, duckdb.token_type.identifier)
    for i, (start, kind) in enumerate(found):
        end = found[i + 1][0] if i + 1 < len(found) else len(sql)
        piece = sql[start:end]
        if kind not in quoted:  # a comment can only follow a keyword, number or operator here
            piece = _COMMENT.sub(" ", piece)
        out.append(piece)
    return "".join(out)


def shift(err: SqlError, sql: str, offset: int) -> SqlError:
    """`err`, positioned in a statement starting at `offset` of `sql`, repositioned in `sql`."""
    line = getattr(err, "line", None)
    if line is None or not offset:
        return err
    prefix = sql[:offset]
    column = err.column  # type: ignore[attr-defined]
    if line == 1 and column is not None:
        column += offset - (prefix.rfind("\n") + 1)
    return _error(type(err), err.message, line + prefix.count("\n"), column, err.length, sql)  # type: ignore[attr-defined]


_ERROR_RE = re.compile(
    r"^(?P<msg>.*?)\n\nLINE (?P<line>\d+): (?P<src>[^\n]*)\n(?P<pad> *)(?P<caret>\^+)\s*$", re.S
)
_MAX_MESSAGE = 400


def sql_error(exc: BaseException, text: str) -> SqlError:
    """A one-line SqlError from a DuckDB error, keeping the position DuckDB reported in `text`."""
    if isinstance(exc, duckdb.InterruptException) or str(exc).startswith("INTERRUPT Error"):
        return _error(SqlCancelled, "query interrupted (cancelled)")
    raw = str(exc).strip()
    m = _ERROR_RE.match(raw)
    if not m:
        return _error(SqlError, _one_line(raw) or type(exc).__name__)
    reported = int(m.group("line"))
    caret = len(m.group("pad")) - len(f"LINE {reported}: ")
    where = _locate(text, reported, m.group("src"), caret)
    if where is None:
        return _error(SqlError, _one_line(m.group("msg")))
    return _error(SqlError, _one_line(m.group("msg")), *where, len(m.group("caret")), text)


def _one_line(message: str) -> str:
    # Drop DuckDB's indented candidate lists ("\t"+...) and fold the rest onto one line.
    message = message.split("\n\nPossible solutions:", 1)[0]  # DuckDB's tuning advice
    lines = [x for x in message.split("\n") if not x.startswith("\t")]
    if len(lines) > 1 and lines[-1].rstrip().endswith(":"):
        lines.pop()
    text = " ".join(" ".join(lines).split())
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"


def _error(
    cls: type[SqlError],
    message: str,
    line: int | None = None,
    column: int | None = None,
    length: int | None = None,
    text: str = "",
) -> SqlError:
    offset = None
    if line is not None and column is not None:
        offset = sum(len(x) + 1 for x in text.split("\n")[: line - 1]) + column - 1
    where = ""
    if line is not None:
        where = f" (line {line}, column {column})" if column else f" (line {line})"
    err = cls(message + where)
    err.message = message  # type: ignore[attr-defined]
    err.line, err.column, err.offset, err.length = line, column, offset, length  # type: ignore[attr-defined]
    return err


def _locate(text: str, line: int, shown: str, caret: int) -> tuple[int, int] | None:
    """(line, column), 1-based, of a caret under DuckDB's copy of a line of `text`.

    DuckDB elides long lines ("... tail"), and errors of a relation count lines of the SQL it wraps
    around `text`: so the copy is looked up in `text`, at the reported line first.
    """
    lines = text.split("\n")
    elided = shown.startswith("...")
    visible = shown[3:] if elided else shown
    if visible.endswith("..."):
        visible = visible[:-3]
    shift = 3 if elided else 0
    candidates = [line] if 1 <= line <= len(lines) else []
    candidates += [n for n in range(1, len(lines) + 1) if n != line]
    for n in candidates:
        source = lines[n - 1]
        at = source.find(visible) if elided else (0 if source.startswith(visible) else -1)
        if at >= 0 and caret >= shift:
            return n, at + caret - shift + 1
    return None
