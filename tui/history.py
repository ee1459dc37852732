"""The SQL console's memory: the history of statements run and the buffer left in the editor.

Both live in the user's state directory (`platformdirs.user_state_dir("ecotop")`, which honours
`XDG_STATE_HOME`), readable only by the user: statements can name customers. The history is a JSON
Lines file, one entry a line, appended as statements run and compacted to the newest `limit` entries
when it grows to twice that; a line that cannot be read (a crash mid-write, a hand edit) is skipped,
never fatal. The console reads and writes them on `DISK`, a thread of their own, never on the UI
thread. Nothing here imports Textual.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

HISTORY_LIMIT = 500


def state_dir() -> Path:
    """Where ecotop keeps per-user state (history, the console buffer)."""
    import platformdirs

    return Path(platformdirs.user_state_dir("ecotop"))


def _write_private(path: Path, text: str) -> None:
    """Replace `path` with `text` atomically (a temp file beside it, then rename), mode 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


@dataclass(frozen=True)
class Entry:
    """One statement the console ran: when, how long, how many rows (or the error it gave)."""

    sql: str
    ran_at: float  # epoch seconds
    elapsed_ms: float | None = None
    rows: int | None = None
    more: bool = False  # the row count is the display limit; the result had more rows
    error: str | None = None

    @property
    def rows_text(self) -> str:
        if self.error is not None:
            return "error"
        if self.rows is None:
            return ""
        return f"{self.rows:,}{'+' if self.more else ''} rows"

    @property
    def elapsed_text(self) -> str:
        if self.elapsed_ms is None:
            return ""
        if self.elapsed_ms >= 10_000:
            return f"{self.elapsed_ms / 1000:.0f} s"
        if self.elapsed_ms >= 1000:
            return f"{self.elapsed_ms / 1000:.1f} s"
        return f"{self.elapsed_ms:.0f} ms"


class History:
    """The persistent list of statements run in the console, oldest first."""

    def __init__(self, path: Path | None = None, limit: int = HISTORY_LIMIT) -> None:
        self.path = path or state_dir() / "sql_history.jsonl"
        self.limit = limit
        self._entries: list[Entry] | None = None
        self._lines: int | None = None

    def entries(self) -> list[Entry]:
        """Every readable entry, oldest first (at most `limit`)."""
        if self._entries is None:
            self._entries = self._read()[-self.limit :]
        return list(self._entries)

    def _read(self) -> list[Entry]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except OSError:
            return []
        out: list[Entry] = []
        fields = set(Entry.__dataclass_fields__)
        lines = text.splitlines()
        self._lines = len(lines)
        for line in lines:
            try:
                raw = json.loads(line)
                if not isinstance(raw, dict) or not isinstance(raw.get("sql"), str):
                    continue
                entry = Entry(**{k: v for k, v in raw.items() if k in fields})
            except (ValueError, TypeError):
                continue
            if out and out[-1].sql.strip() == entry.sql.strip():
                out[-1] = entry  # a statement run again in a row counts once, newest figures
            else:
                out.append(entry)
        return out

    def add(self, entry: Entry) -> None:
        """Append one entry (a repeat of the newest statement replaces it). Never raises for I/O.

        Appends one line; the file is rewritten only when it reaches twice `limit` lines.
        """
        entries = self.entries()
        if entries and entries[-1].sql.strip() == entry.sql.strip():
            entries.pop()
        entries.append(entry)
        self._entries = entries[-self.limit :]
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(asdict(entry), ensure_ascii=False) + "\n")
        except OSError:
            return
        self._lines = (self._lines or self._line_count() - 1) + 1
        if self._lines > 2 * self.limit:
            self._rewrite()
            self._lines = len(self._entries)

    def _line_count(self) -> int:
        try:
            with self.path.open("rb") as fh:
                return sum(1 for _ in fh)
        except OSError:
            return 0

    def _rewrite(self) -> None:
        text = "".join(
            json.dumps(asdict(e), ensure_ascii=False) + "\n" for e in self._entries or []
        )
        with contextlib.suppress(OSError):
            _write_private(self.path, text)

    def search(self, text: str) -> list[Entry]:
        """Entries containing every word of `text` (case-insensitive), newest first."""
        words = text.lower().split()
        return [e for e in reversed(self.entries()) if all(w in e.sql.lower() for w in words)]


class Buffer:
    """The console editor's text, saved when it changes and restored on the next start."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or state_dir() / "sql_buffer.sql"
        self._saved: str | None = None

    def load(self) -> str:
        try:
            self._saved = self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            self._saved = ""
        return self._saved

    def save(self, text: str) -> None:
        """Write the buffer if it changed since the last load or save. Never raises for I/O."""
        if text == self._saved:
            return
        try:
            _write_private(self.path, text)
        except OSError:
            return
        self._saved = text


def now() -> float:
    return time.time()


class DiskQueue:
    """One background thread for the console's small writes (history, buffer), in order.

    The UI thread only queues work here; `flush()` waits for what was queued (a worker before it
    reads the history, and the screen once as it goes away, so nothing written is lost on quit).
    """

    def __init__(self) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ecotop-disk")
        self._last: Future[None] | None = None

    def submit(self, fn: Callable[..., None], *args: Any) -> None:
        """Run `fn(*args)` on the disk thread after everything queued before it."""
        self._last = self._pool.submit(_quietly, fn, *args)

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until everything queued so far is written (at most `timeout` seconds)."""
        last = self._last
        if last is not None:
            with contextlib.suppress(Exception):
                last.result(timeout)


def _quietly(fn: Callable[..., None], *args: Any) -> None:
    with contextlib.suppress(Exception):  # history and buffer are conveniences: never raise
        fn(*args)


#: The console's disk thread (one per process).
DISK = DiskQueue()
