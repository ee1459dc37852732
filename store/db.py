"""Opening an ecotop DuckDB file: read-only or read-write, with per-process limits and clear errors."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, overload

import duckdb

from ecotop.store import errors, threadguard
from ecotop.store.errors import StoreError

if TYPE_CHECKING:
    from ecotop.store.remote import RemoteDatabase
    from ecotop.store.spool.load import Loader

SCHEMA_VERSION = 3
#: A DuckDB connection or cursor (the type, for layers that do not import duckdb).
DuckCursor = duckdb.DuckDBPyConnection
#: A DuckDB configuration as duckdb.connect takes it.
DuckConfig = dict[str, str | bool | int | float | list[str]]
MIGRATIONS_DIR = Path(__file__).with_name("migrations")


@dataclass(frozen=True)
class Limits:
    """What one process allows DuckDB: threads, memory and a temp directory it can write.

    Defaults suit a shared server; each can be overridden by ECOTOP_THREADS, ECOTOP_MEMORY_LIMIT,
    ECOTOP_TEMP_DIR and ECOTOP_CHECKPOINT_THRESHOLD, or by the caller.
    """

    threads: int = field(default_factory=lambda: int(os.environ.get("ECOTOP_THREADS", "2")))
    memory_limit: str = field(default_factory=lambda: os.environ.get("ECOTOP_MEMORY_LIMIT", "1GB"))
    temp_directory: str = field(default_factory=lambda: os.environ.get("ECOTOP_TEMP_DIR", ""))
    # DuckDB checkpoints by itself when a commit leaves the WAL above this (16MB by default, which
    # under continuous ingest rewrote the tables' tails every other file and halved throughput);
    # spool ingestion checkpoints from its own thread below it (store.spool, --wal-limit).
    checkpoint_threshold: str = field(
        default_factory=lambda: os.environ.get("ECOTOP_CHECKPOINT_THRESHOLD", "128MB")
    )

    def config(self) -> DuckConfig:
        from ecotop.store.tempdir import process_temp_dir

        # a private 0700 directory per process: SQL can read the temp directory (#15.8)
        temp = process_temp_dir(self.temp_directory or None)
        return {
            "threads": self.threads,
            "memory_limit": self.memory_limit,
            "temp_directory": temp,
            # spill is capped: a full disk is not one query's to cause (#15.17)
            "max_temp_directory_size": os.environ.get("ECOTOP_MAX_TEMP_SIZE", "20GB"),
            "checkpoint_threshold": self.checkpoint_threshold,
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
        }


def _default_temp_dir() -> str:
    import platformdirs

    path = Path(platformdirs.user_cache_dir("ecotop")) / "duckdb-tmp"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        path = Path("/tmp") / f"ecotop-{os.getuid()}"
        path.mkdir(parents=True, exist_ok=True)
    return str(path)


class Database:
    """An open ecotop file: the DuckDB connection plus what the store knows about the file.

    `con` belongs to the thread that opened it; every other thread takes `cursor()`.
    """

    #: a DuckLake attached as the main database (store.lake.LakeDatabase), written by other hosts
    is_lake: bool = False
    #: a file served by another process (store.remote.RemoteDatabase): never this class
    remote: bool = False

    def __init__(self, path: Path, con: duckdb.DuckDBPyConnection, read_only: bool) -> None:
        self.path = path
        self.con = con
        self.read_only = read_only

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A new cursor for one worker thread (DuckDB cursors are not shared across threads)."""
        threadguard.check("DuckDB cursor")
        return self.con.cursor()

    def make_loader(self, cur: duckdb.DuckDBPyConnection) -> Loader:
        """The spool's loader for this file on `cur` (a lake brings its own: store.lake.LakeLoader)."""
        from ecotop.store.spool.load import Loader

        return Loader(cur)

    def meta(self) -> dict[str, str]:
        """Every key of ecotop_meta (schema_version, generated, scale, seed, sample_mod, ...)."""
        cur = self.cursor()
        try:
            return dict(cur.execute("SELECT key, value FROM ecotop_meta").fetchall())
        finally:
            cur.close()

    @property
    def generated(self) -> bool:
        """True when `ecotop generate` made this file (so the simulator may add events to it)."""
        return self.meta().get("generated") == "true"

    def close(self) -> None:
        """Close the connection (checkpointing a writable file)."""
        with contextlib.suppress(duckdb.Error):
            self.con.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_PID_RE = re.compile(r"PID (\d+)")


def _translate(path: Path, exc: Exception) -> StoreError:
    text = str(exc)
    if "Could not set lock" in text or "Conflicting lock" in text:
        m = _PID_RE.search(text)
        pid = int(m.group(1)) if m else None
        return errors.Locked(path, pid)
    if "not a valid DuckDB database" in text or "database file" in text and "valid" in text:
        return errors.NotADatabase(path)
    if "older storage version" in text or "newer" in text and "storage" in text:
        return errors.NotADatabase(path, "it was written by an incompatible DuckDB version")
    return errors.Damaged(path, text.splitlines()[0] if text else type(exc).__name__)


def _looks_like_duckdb(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            head = fh.read(16)
    except OSError:
        return False
    return len(head) >= 12 and head[8:12] == b"DUCK"


_OPEN_CONFIGS: dict[tuple[str, bool], DuckConfig] = {}


def connect(
    path: str | os.PathLike[str],
    *,
    write: bool = False,
    create: bool = False,
    limits: Limits | None = None,
) -> duckdb.DuckDBPyConnection:
    """Open the raw DuckDB connection with limits applied and DuckDB errors translated."""
    p = Path(path)
    if not create and not p.exists():
        raise errors.Missing(p)
    if p.exists() and p.is_dir():
        raise errors.NotADatabase(p, "it is a directory")
    if p.exists() and not os.access(p, os.R_OK):
        raise errors.NotADatabase(p, "permission denied (you may not read this file)")
    if p.exists() and p.stat().st_size > 0 and not _looks_like_duckdb(p):
        raise errors.NotADatabase(p)
    if create and not p.parent.exists():
        raise errors.Missing(p.parent)
    cfg = (limits or Limits()).config()
    key = str(p.resolve())
    try:
        try:
            con = duckdb.connect(str(p), read_only=not write, config=cfg)
        except duckdb.ConnectionException as exc:
            # This process already has the file open with other limits; DuckDB shares one instance
            # per file and process, so a second open must use the limits of the first.
            first = _OPEN_CONFIGS.get((key, write))
            if first is None or first == cfg or "different configuration" not in str(exc):
                raise
            con = duckdb.connect(str(p), read_only=not write, config=first)
            cfg = first
    except duckdb.Error as exc:
        raise _translate(p, exc) from None
    _OPEN_CONFIGS[(key, write)] = cfg
    from ecotop.store import guard

    if not guard.is_locked_down(con):  # else: this process already opened (and locked) the file
        # Rollups bucket instants by UTC minute and hour; every cursor of this instance inherits it.
        con.execute("SET GLOBAL TimeZone = 'UTC'")
    # No file or network access from SQL, and no SET afterwards (see store/guard.py): set anything
    # else this instance needs above this line.
    guard.lockdown(con)
    return con


def schema_version(con: duckdb.DuckDBPyConnection) -> int | None:
    """The schema version stored in the file, or None if it is not an ecotop file."""
    try:
        rows = con.execute("SELECT value FROM ecotop_meta WHERE key = 'schema_version'").fetchall()
    except duckdb.CatalogException:
        return None
    return int(rows[0][0]) if rows else None


@overload
def open_db(
    path: str | os.PathLike[str],
    *,
    write: Literal[True],
    limits: Limits | None = None,
    allow_old: bool = False,
) -> Database: ...


@overload
def open_db(
    path: str | os.PathLike[str],
    *,
    write: bool = False,
    limits: Limits | None = None,
    allow_old: bool = False,
) -> Database | RemoteDatabase: ...


def open_db(
    path: str | os.PathLike[str],
    *,
    write: bool = False,
    limits: Limits | None = None,
    allow_old: bool = False,
) -> Database | RemoteDatabase:
    """Open an existing ecotop file. Read-only unless `write`; never creates a file.

    When another ecotop process writes the file and serves it (store/server.py), a read-only open
    returns a `store.remote.RemoteDatabase` talking to that process instead (the interface sees both
    through `queries.gateway`).

    Raises a StoreError with a one-line message for a missing path, a file that is not a DuckDB
    database or is damaged, a file locked by another process (naming its PID), a file that is not an
    ecotop database, and a schema older (unless `allow_old`) or newer than this build.
    """
    if str(path).startswith("ducklake:"):  # a DuckLake attach string: the lake (store/lake.py)
        from ecotop.store.lake import open_lake

        return open_lake(path, write=write, limits=limits)
    p = Path(path)
    if not write and p.exists():
        from ecotop.store.remote import connect_remote

        remote = connect_remote(p)
        if remote is not None:
            return remote
    try:
        con = connect(p, write=write, limits=limits)
    except errors.Locked:
        if write:
            raise
        from ecotop.store.remote import connect_remote

        remote = connect_remote(p, wait=1.5)  # a writer that just started may not serve yet
        if remote is None:
            raise
        return remote
    try:
        version = schema_version(con)
    except duckdb.Error as exc:
        con.close()
        raise _translate(p, exc) from None
    if version is None:
        con.close()
        raise errors.NotEcotop(p)
    if version > SCHEMA_VERSION:
        con.close()
        raise errors.SchemaTooNew(p, version, SCHEMA_VERSION)
    if version < SCHEMA_VERSION and not allow_old:
        con.close()
        raise errors.SchemaTooOld(p, version, SCHEMA_VERSION)
    return Database(p, con, read_only=not write)


def _migration_files() -> dict[int, Path]:
    out: dict[int, Path] = {}
    for f in sorted(MIGRATIONS_DIR.glob("*.sql")):
        out[int(f.name.split("_", 1)[0])] = f
    return out


def _after_002(con: duckdb.DuckDBPyConnection) -> None:
    from ecotop.store import rollups

    n = con.execute("SELECT count(*) FROM users").fetchall()[0][0]
    con.execute(
        "INSERT OR REPLACE INTO ecotop_meta VALUES ('sample_mod', $m)",
        {"m": str(rollups.choose_sample_mod(n))},
    )
    rollups.rebuild(con)


def _after_003(con: duckdb.DuckDBPyConnection) -> None:
    from ecotop.store import rollups

    rollups.build_v3(con)


_AFTER: dict[int, Callable[[duckdb.DuckDBPyConnection], None]] = {2: _after_002, 3: _after_003}


def apply_migrations(
    con: duckdb.DuckDBPyConnection, start: int, upto: int = SCHEMA_VERSION
) -> None:
    """Apply migrations start+1..upto, each in its own transaction, recording the version."""
    files = _migration_files()
    for v in range(start + 1, upto + 1):
        con.execute("BEGIN")
        try:
            con.execute(files[v].read_text())
            if v in _AFTER:
                _AFTER[v](con)
            con.execute(
                "INSERT OR REPLACE INTO ecotop_meta VALUES ('schema_version', $v)", {"v": str(v)}
            )
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise


def create_db(
    path: str | os.PathLike[str],
    *,
    limits: Limits | None = None,
    version: int = SCHEMA_VERSION,
    overwrite: bool = False,
) -> Database:
    """Create a new, empty ecotop file at `path` with the schema at `version` (for generate/tests)."""
    p = Path(path)
    if p.exists():
        if not overwrite:
            raise errors.Exists(p)
        p.unlink()
        wal = p.with_name(p.name + ".wal")
        if wal.exists():
            wal.unlink()
    con = connect(p, write=True, create=True, limits=limits)
    apply_migrations(con, 0, version)
    return Database(p, con, read_only=False)


def migrate(
    path: str | os.PathLike[str], *, limits: Limits | None = None
) -> tuple[int, int, Path | None]:
    """Upgrade a file to this build's schema after copying it to a backup beside it.

    Returns (old_version, new_version, backup_path); backup_path is None when nothing was to do.
    """
    p = Path(path)
    db = open_db(p, write=True, limits=limits, allow_old=True)
    con = db.con
    old = schema_version(con) or 0
    if old == SCHEMA_VERSION:
        db.close()
        return old, old, None
    con.execute("CHECKPOINT")
    con.close()
    backup = p.with_name(f"{p.name}.v{old}.bak")
    n = 1
    while True:
        # a new file, never through a name or link someone planted beside the file (#15.1)
        try:
            fd = os.open(backup, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            break
        except FileExistsError:
            n += 1
            backup = p.with_name(f"{p.name}.v{old}.{n}.bak")
    with os.fdopen(fd, "wb") as dst, open(p, "rb") as src:
        shutil.copyfileobj(src, dst, 16 * 2**20)
    shutil.copymode(p, backup)
    con = connect(p, write=True, limits=limits)
    try:
        apply_migrations(con, old)
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return old, SCHEMA_VERSION, backup
