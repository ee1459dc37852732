"""The spool directory: which files are candidates, the lock that keeps one ingester per directory,
moving files to `done/` or `rejected/` (beside `<name>.reason`), grouping small files, the caps on
file size and line length, and checkpoints of the write-ahead log.

Exactly once, across crashes: a crash before COMMIT leaves nothing (the file is still in the spool
and is loaded again); a crash after COMMIT but before the move leaves a file whose checksum
`ingest_log` holds as 'ingested', so the next pass skips it (logging 'duplicate') and moves it on.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from ecotop.store.errors import StoreError
from ecotop.store.spool.load import Loader, Prepared
from ecotop.store.spool.read import _long_line, file_format, max_file_bytes, max_line_bytes, sha256
from ecotop.store.spool.results import FileResult, Problem, Rejected

if TYPE_CHECKING:
    from ecotop.store.db import Database

DEFAULT_WAL_LIMIT = 64 * 1024 * 1024


# -- the spool directory ---------------------------------------------------------------------------


def is_candidate(name: str) -> bool:
    """Files the ingester reads: not dotfiles, not *.tmp (producers write those, then rename)."""
    return not name.startswith(".") and not name.endswith(".tmp")


def _unique(dest_dir: Path, name: str) -> Path:
    dest = dest_dir / name
    if not dest.exists() and not (dest_dir / f"{name}.reason").exists():
        return dest
    p = Path(name)
    stem, suffix = name[: len(name) - len(p.suffix)], p.suffix
    n = 1
    while True:
        dest = dest_dir / f"{stem}~{n}{suffix}"
        if not dest.exists():
            return dest
        n += 1


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def reason_text(
    name: str, size: int, checksum: str, problems: list[Problem], total: int, unit: str
) -> str:
    """The body of a `.reason` file: what was rejected and, per problem, where and why."""
    out = [f"rejected: {name} ({size} bytes, sha256 {checksum})"]
    if total > len(problems):
        out.append(f"{total} problems; the first {len(problems)}:")
    out += [p.text(unit) for p in problems]
    out.append("Nothing of this file was loaded. Fix it and drop it into the spool again.")
    return "\n".join(out) + "\n"


LOCK_NAME = ".ecotop-ingest.lock"


def _bad(message: str) -> StoreError:
    from ecotop.store.errors import BadInput

    return BadInput(message)


class IngestFailed(StoreError):
    """A file could not be loaded for a reason that is not the file's (the database failed)."""


def _lock_spool(directory: Path) -> Any:
    """Hold an exclusive lock on the spool directory: two ingesters would race for its files."""
    import fcntl

    from ecotop.store.errors import BadInput

    try:
        fh = open(directory / LOCK_NAME, "a+")  # noqa: SIM115 - held until close()
    except OSError as exc:
        raise BadInput(
            f"{directory}: cannot write in the spool directory ({exc.strerror or exc}); "
            "ingestion moves files out of it, so it must be writable"
        ) from None
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.seek(0)
        who = fh.read().strip() or "another process"
        fh.close()
        raise BadInput(
            f"{directory}: another ecotop is ingesting this spool directory ({who})"
        ) from None
    fh.seek(0)
    fh.truncate()
    fh.write(f"pid {os.getpid()}")
    fh.flush()
    return fh


# Small files that queue up are loaded together, in one transaction (each keeps its ingest_log row,
# its checksum and, should the group fail, its own rejection): files under GROUP_FILE_EVENTS rows,
# gathered until ECOTOP_SPOOL_GROUP_EVENTS rows (default 100,000; 0 loads every file alone).
GROUP_FILE_EVENTS = 20_000


def group_events() -> int:
    """Rows a group of small files gathers up to (ECOTOP_SPOOL_GROUP_EVENTS)."""
    try:
        return max(0, int(os.environ.get("ECOTOP_SPOOL_GROUP_EVENTS", "100000")))
    except ValueError:
        return 100_000


def _rows(prepared: tuple[bytes | None, Any]) -> int:
    prep = prepared[1]
    return prep.res.rows if isinstance(prep, Prepared) else 0


class Spool:
    """A spool directory feeding one open writable database.

    `process(path)` handles one file start to end; `run_once()` every file waiting now (oldest
    first: modification time, then name). Ingested files move to `done/` (or are deleted with
    `delete=True`), rejected ones to `rejected/` with `<name>.reason`. The write-ahead log is
    checkpointed from this (the ingesting) thread when it passes `wal_limit` bytes.
    """

    def __init__(
        self,
        db: Database,
        directory: str | os.PathLike[str],
        *,
        delete: bool = False,
        wal_limit: int = DEFAULT_WAL_LIMIT,
        crash: Callable[[str], None] | None = None,
    ) -> None:
        self.db = db
        self.dir = Path(directory)
        if not self.dir.is_dir():
            from ecotop.store.errors import BadInput

            raise BadInput(f"{self.dir}: no such spool directory")
        self._lock = _lock_spool(self.dir)
        self.done_dir = self.dir / "done"
        self.rejected_dir = self.dir / "rejected"
        for sub in (self.done_dir, self.rejected_dir):
            try:
                sub.mkdir(exist_ok=True)
            except FileExistsError:
                self._lock.close()
                raise _bad(f"{sub}: exists and is not a directory; move it away") from None
            except OSError as exc:
                self._lock.close()
                raise _bad(f"{sub}: cannot create: {exc.strerror or exc}") from None
        self.delete = delete
        self.wal_limit = wal_limit
        self.crash = crash
        self._cur: duckdb.DuckDBPyConnection | None = None
        self._loader: Loader | None = None
        self.wal_path: Path | None = Path(f"{db.path}.wal")
        self.checkpoints = 0
        self.checkpoint_error: str | None = None
        self.wal_peak = 0
        self._pool: Any = None
        self._prep_cur: duckdb.DuckDBPyConnection | None = None

    @property
    def cur(self) -> duckdb.DuckDBPyConnection:
        """The ingest cursor, made on first use by the thread that ingests."""
        if self._cur is None:
            self._cur = self.db.cursor()
            # a lake brings its own Loader (store.lake.LakeLoader: a lake-wide claim per file)
            self._loader = self.db.make_loader(self._cur)
        return self._cur

    @property
    def loader(self) -> Loader:
        self.cur  # noqa: B018
        assert self._loader is not None
        return self._loader

    def pending(self) -> list[Path]:
        """Files waiting in the spool, oldest first."""
        found = []
        try:
            it = os.scandir(self.dir)
        except OSError as exc:
            raise _bad(
                f"{self.dir}: the spool directory cannot be read ({exc.strerror or exc}); "
                "was it removed?"
            ) from None
        with it:
            for e in it:
                if not is_candidate(e.name):
                    continue
                try:
                    if not e.is_file(follow_symlinks=False):
                        continue
                    st = e.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                found.append((st.st_mtime_ns, e.name))
        return [self.dir / n for _, n in sorted(found)]

    def process(self, path: Path) -> FileResult | None:
        """Ingest, skip or reject one file and move it; None if it vanished before it was read."""
        return self._finish(path, self._prepare(path, self.cur))

    def run_once(
        self,
        stop: threading.Event | None = None,
        on_result: Callable[[FileResult], None] | None = None,
    ) -> list[FileResult]:
        """Process every file waiting now (stopping between files when `stop` is set); each
        result also goes to `on_result` as soon as its file is done.

        Pipelined: while one file commits on the ingest cursor, a helper thread reads, parses and
        types the next one on its own cursor (the commits stay strictly one after the other).
        """
        out: list[FileResult] = []
        files = self.pending()
        if not files:
            return out

        def done(r: FileResult | None) -> None:
            if r is not None:
                out.append(r)
                if on_result is not None:
                    on_result(r)

        ex = self._executor()
        nxt = ex.submit(self._prepare_in_helper, files[0])
        group: list[tuple[Path, tuple[bytes | None, Any]]] = []
        limit = group_events()
        for i, p in enumerate(files):
            if stop is not None and stop.is_set():
                break
            prepared = nxt.result()
            if i + 1 < len(files):
                nxt = ex.submit(self._prepare_in_helper, files[i + 1])
            if limit and self._groupable(prepared, group):
                group.append((p, prepared))
                if sum(_rows(g[1]) for g in group) < limit and i + 1 < len(files):
                    continue  # more small files queue up behind it: gather them
                for r in self._finish_group(group):
                    done(r)
                group = []
                continue
            for r in self._finish_group(group):
                done(r)
            group = []
            done(self._finish(p, prepared))
        for r in self._finish_group(group):
            done(r)
        return out

    def _groupable(self, prepared: tuple[bytes | None, Any], group: list[tuple[Path, Any]]) -> bool:
        """A small, good, new file the base Loader can load together with `group`."""
        raw, prep = prepared
        if raw is None or not isinstance(prep, Prepared) or prep.duplicate:
            return False
        if type(self.loader) is not Loader or prep.res.rows >= GROUP_FILE_EVENTS:
            return False
        return all(g[1][1].res.checksum != prep.res.checksum for g in group)

    def _finish_group(
        self, group: list[tuple[Path, tuple[bytes | None, Any]]]
    ) -> list[FileResult | None]:
        """Load small files in one transaction and move each; if the group fails as a whole,
        each half again (down to one file on its own: only a bad file is rejected)."""
        if len(group) <= 1:
            return [self._finish(p, prepared) for p, prepared in group]
        preps = [prepared[1] for _, prepared in group]
        try:
            results = self.loader.commit_group(preps, crash=self.crash)
        except (Rejected, duckdb.Error):
            mid = len(group) // 2
            return self._finish_group(group[:mid]) + self._finish_group(group[mid:])
        return [self._moved(p, r) for (p, _), r in zip(group, results, strict=True)]

    def _moved(self, path: Path, res: FileResult) -> FileResult:
        """Move (or delete) a file whose rows are committed."""
        if self.delete:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        else:
            dest = _unique(self.done_dir, path.name)
            os.replace(path, dest)
            res.moved_to = dest
        if self.crash:
            self.crash("after_move")
        self.maybe_checkpoint()
        return res

    def _executor(self) -> Any:
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ecotop-spool-prep")
        return self._pool

    def _prepare_in_helper(self, path: Path) -> tuple[bytes | None, Any]:
        if self._prep_cur is None:
            self._prep_cur = self.db.cursor()
        return self._prepare(path, self._prep_cur)

    def _prepare(self, path: Path, cur: duckdb.DuckDBPyConnection) -> tuple[bytes | None, Any]:
        """(bytes, Prepared or the Rejected/database error it raised); (None, None) if it vanished."""
        try:
            size = path.stat().st_size
            cap = max_file_bytes()
            if size > cap:  # not read at all: the reason names its size
                why = f"{size:,} bytes, over the {cap:,}-byte cap (ECOTOP_SPOOL_MAX_FILE)"
                return b"", Rejected([Problem(0, "", why)])
            raw = path.read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            return None, None
        if file_format(path.name) in ("ndjson", "csv"):
            long = _long_line(raw, max_line_bytes())
            if long is not None:
                why = (
                    f"{long[1]:,} bytes, over the {max_line_bytes():,}-byte line cap "
                    "(ECOTOP_SPOOL_MAX_LINE)"
                )
                return raw, Rejected([Problem(long[0], "", why)])
        try:
            return raw, self.loader.prepare(path.name, raw, cur)
        except (Rejected, duckdb.Error) as exc:
            return raw, exc

    def _finish(self, path: Path, prepared: tuple[bytes | None, Any]) -> FileResult | None:
        raw, prep = prepared
        if raw is None:
            return None
        t0 = time.perf_counter()
        try:
            if isinstance(prep, BaseException):
                raise prep
            res = self.loader.commit(prep, crash=self.crash)
        except duckdb.Error as exc:  # not the file's fault: nothing loaded, it stays in the spool
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise IngestFailed(
                f"{path}: not ingested, the database failed ({first}); the file stays in the spool"
            ) from exc
        except Rejected as exc:
            res = FileResult(path.name, "rejected", size=len(raw), checksum=sha256(raw))
            res.problems, res.total_problems, res.unit = exc.problems, exc.total, exc.unit
            self.loader.log(res.name, res.size, res.checksum, 0, "rejected")
            dest = _unique(self.rejected_dir, path.name)
            _write_atomic(
                dest.with_name(dest.name + ".reason"),
                reason_text(path.name, res.size, res.checksum, exc.problems, exc.total, exc.unit),
            )
            os.replace(path, dest)
            res.moved_to = dest
            res.elapsed_s = time.perf_counter() - t0
            return res
        return self._moved(path, res)

    def wal_size(self) -> int:
        if self.wal_path is None:
            return 0
        try:
            return self.wal_path.stat().st_size
        except FileNotFoundError:
            return 0

    def maybe_checkpoint(self, limit: int | None = None) -> bool:
        """CHECKPOINT when the write-ahead log is larger than `limit` (default wal_limit)."""
        size = self.wal_size()
        self.wal_peak = max(self.wal_peak, size)
        if size <= (self.wal_limit if limit is None else limit):
            return False
        try:
            try:
                self.cur.execute("CHECKPOINT")
            except duckdb.TransactionException:
                # Readers are running (the dashboard's refresh): FORCE waits for the checkpoint lock
                # (DuckDB >= 1.4; it no longer aborts them), holding new transactions meanwhile.
                self.cur.execute("FORCE CHECKPOINT")
        except duckdb.Error as exc:  # try again after the next file
            self.checkpoint_error = str(exc).splitlines()[0]
            return False
        self.checkpoints += 1
        return True

    def close(self) -> None:
        """Close the ingest cursor and let another ingester have the directory."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        if self._prep_cur is not None:
            with contextlib.suppress(duckdb.Error):
                self._prep_cur.close()
            self._prep_cur = None
        if self._cur is not None:
            with contextlib.suppress(duckdb.Error):
                self._cur.close()
            self._cur = None
            self._loader = None
        if self._lock is not None:
            self._lock.close()
            self._lock = None
