"""A DuckLake as a place ecotop opens like a file: Parquet data files plus a Postgres or DuckDB catalog.

A lake is named by DuckLake's own attach string:

- `ducklake:postgres:dbname=eco host=127.0.0.1 port=5432 user=eco` (a catalog many hosts share);
- `ducklake:FILE.ducklake` (a single-host lake whose catalog is a DuckDB file).

The data directory is given once, at `init_lake`; the catalog records it and every later open works
from the attach string alone. Passwords never appear in the string: libpq reads them from PGPASSWORD,
a password file (PGPASSFILE, ~/.pgpass) or a service file (PGSERVICE/PGSERVICEFILE); an attach string
with `password=` is refused.

Opening loads the DuckLake and Postgres extensions BY PATH from their installed Python packages
(`duckdb-extension-ducklake`, `duckdb-extension-postgres-scanner`; nothing is downloaded), attaches
the lake as `lake` (read-only unless writing), allows exactly its data directory
(`allowed_directories`), then locks the connection down like every other (store.guard.lockdown): no
further file or network access from SQL, no extension loading, no settings. Every cursor starts
with `USE lake`, so queries use unqualified table names.

The schema is the migrations' SQL (store/migrations) with what DuckLake cannot hold taken out
(PRIMARY KEY, UNIQUE, CHECK, indexes); raw event tables are partitioned by day of their time column.
Writers claim each spool file lake-wide (see `LakeLoader`) so a file is ingested exactly once across
every host.

One piece over ~500 lines: opening, initialising, importing, maintaining and the lake-wide
claim of a lake all share the attach string's parsing and the extension loading; split by verb,
each part would re-import the same private helpers.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from ecotop.store import errors
from ecotop.store.db import MIGRATIONS_DIR, SCHEMA_VERSION, Database, Limits
from ecotop.store.errors import StoreError
from ecotop.store.spool import FileResult, Loader, Prepared

__all__ = [
    "ALIAS",
    "LakeDatabase",
    "LakeError",
    "LakeURI",
    "NotALake",
    "import_file",
    "init_lake",
    "is_lake_uri",
    "maintain",
    "open_lake",
    "parse_uri",
]

PREFIX = "ducklake:"
ALIAS = "lake"
# Tables with a time column that grow with events: partitioned by day of that column.
_PARTITION_COLUMN = "ts"


# What the merchant view reads one merchant at a time: its files sorted by merchant, then time.
_SORTED = {"rollup_merchant_touch": "merchant_id, ts"}

# Inserts of up to this many rows stay in the catalog (DuckLake data inlining): a spool file's rollup
# deltas and small event batches then cost catalog rows, not a new Parquet file per table and commit.
INLINE_ROWS = 2_000


class LakeError(StoreError):
    """A lake cannot be opened or used: one line saying why."""


class NotALake(LakeError):
    """The attach string names a catalog that holds no DuckLake (or no ecotop lake)."""


@dataclass(frozen=True)
class LakeURI:
    """A parsed lake attach string."""

    text: str  # the whole attach string, as DuckDB's ATTACH takes it
    libpq: str | None  # the Postgres connection string of a Postgres catalog
    file: Path | None  # the catalog file of a DuckDB catalog

    def __str__(self) -> str:
        return self.text


def is_lake_uri(target: object) -> bool:
    """True when `target` (a string or path) is a DuckLake attach string."""
    return str(target).startswith(PREFIX)


_PASSWORD = re.compile(r"(^|\s)password\s*=", re.I)


def parse_uri(target: object) -> LakeURI:
    """Check and split a lake attach string; raises LakeError with one line when it is malformed."""
    text = str(target).strip()
    if not text.startswith(PREFIX):
        raise LakeError(
            f"{text}: not a lake (a lake is named 'ducklake:postgres:...' or 'ducklake:FILE')"
        )
    rest = text[len(PREFIX) :]
    if rest.startswith("postgres:"):
        libpq = rest[len("postgres:") :].strip()
        if _PASSWORD.search(libpq):
            raise LakeError(
                "a password in the lake's attach string is refused: use PGPASSWORD, a password "
                "file (PGPASSFILE) or a service file (PGSERVICEFILE)"
            )
        if not libpq:
            raise LakeError(f"{text}: no Postgres connection string after 'ducklake:postgres:'")
        return LakeURI(text, libpq, None)
    if not rest or ":" in rest.split("/", 1)[0] and not rest.startswith("duckdb:"):
        raise LakeError(f"{text}: unsupported catalog (use ducklake:postgres:... or ducklake:FILE)")
    file = Path(rest.removeprefix("duckdb:"))
    return LakeURI(text, None, file)


def _redacted(uri: LakeURI) -> str:
    return uri.text


# -- extensions ----------------------------------------------------------------------------------


def _extension(package: str, name: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise LakeError(
            f"the DuckLake extensions are not installed (pip install 'ecotop[lake]'; missing {package})"
        )
    base = Path(next(iter(spec.submodule_search_locations)))
    found = sorted(base.glob(f"extensions/v{duckdb.__version__}/{name}.duckdb_extension"))
    if not found:
        raise LakeError(
            f"{package} has no {name} extension for DuckDB {duckdb.__version__} "
            "(install the package of the same version as duckdb)"
        )
    return found[0]


def _load_extensions(con: duckdb.DuckDBPyConnection, postgres: bool) -> None:
    con.execute(f"LOAD '{_extension('duckdb_extension_ducklake', 'ducklake')}'")
    if postgres:
        con.execute(f"LOAD '{_extension('duckdb_extension_postgres_scanner', 'postgres_scanner')}'")


# -- errors --------------------------------------------------------------------------------------


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return " ".join(text.splitlines()[0].split()) if text else type(exc).__name__


def _translate(uri: LakeURI, exc: BaseException) -> LakeError:
    text = str(exc)
    low = text.lower()
    if "password authentication failed" in low or "no password supplied" in low:
        return LakeError(
            f"{uri}: the catalog refused the login (wrong or missing password: set PGPASSWORD, "
            "PGPASSFILE or a service file)"
        )
    if "connection refused" in low or "could not connect" in low or "timeout expired" in low:
        return LakeError(f"{uri}: the catalog is unreachable ({_first_line(exc)})")
    if "does not exist" in low and "database" in low:
        return NotALake(f"{uri}: not a lake (the catalog database does not exist)")
    if "no such file or directory" in low or "cannot open file" in low:
        return LakeError(f"{uri}: a data file of the lake is missing ({_first_line(exc)})")
    return LakeError(f"{uri}: {_first_line(exc)}")


# -- the catalog before attaching ----------------------------------------------------------------


def _pg_connect(libpq: str, timeout: int = 5) -> Any:
    try:
        import psycopg
    except ImportError:  # pragma: no cover - part of the lake extra
        raise LakeError("psycopg is not installed (pip install 'ecotop[lake]')") from None
    try:
        return psycopg.connect(libpq, connect_timeout=timeout, autocommit=True)
    except psycopg.Error as exc:
        raise _translate(LakeURI(PREFIX + "postgres:" + libpq, libpq, None), exc) from None


def _catalog_exists(uri: LakeURI) -> bool:
    """True when the catalog holds a DuckLake (its metadata tables)."""
    if uri.libpq is not None:
        with _pg_connect(uri.libpq) as pg:
            row = pg.execute("SELECT to_regclass('ducklake_metadata') IS NOT NULL").fetchone()
            return bool(row and row[0])
    assert uri.file is not None
    if not uri.file.exists():
        return False
    try:
        with duckdb.connect(str(uri.file), read_only=True) as probe:
            return bool(
                probe.execute(
                    "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'ducklake_metadata'"
                ).fetchall()[0][0]
            )
    except duckdb.Error:
        return False


def _extension_dir() -> str:
    """A private extension directory whose entries link to the extensions' installed packages.

    Opening a lake as DuckDB's main database (so that every cursor, including cursors of
    cursors, reads the lake by unqualified names) needs DuckDB to load the DuckLake extension
    while it opens: it finds it here, never downloads (autoinstall stays off).
    """
    import platformdirs

    platform = duckdb.execute("PRAGMA platform").fetchall()[0][0]
    base = Path(platformdirs.user_cache_dir("ecotop")) / "duckdb-extensions"
    d = base / f"v{duckdb.__version__}" / platform
    d.mkdir(mode=0o700, parents=True, exist_ok=True)
    for package, name in (
        ("duckdb_extension_ducklake", "ducklake"),
        ("duckdb_extension_postgres_scanner", "postgres_scanner"),
    ):
        src = _extension(package, name)
        link = d / f"{name}.duckdb_extension"
        if link.is_symlink() and os.readlink(link) == str(src):
            continue
        tmp = d / f".{name}.{os.getpid()}.tmp"
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        os.symlink(src, tmp)
        os.replace(tmp, link)
    return str(base)


def _connect(
    uri: LakeURI,
    *,
    write: bool,
    limits: Limits | None,
    data_dir: Path | None = None,
    extra: dict[str, Path] | None = None,
    options: dict[str, int] | None = None,
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection whose main database is the lake, its data directory allowed, locked.

    With `data_dir` (lake init) the lake is attached to an in-memory database instead, as `lake`,
    since only ATTACH takes the data directory (DATA_PATH); so are the `extra` databases (an
    import's source file), read-only.
    """
    cfg = (limits or Limits()).config()
    attach = data_dir is not None or bool(extra)
    try:
        if attach:
            con = duckdb.connect(":memory:", config=cfg)
        else:
            cfg["extension_directory"] = _extension_dir()
            cfg["autoload_known_extensions"] = True  # from that directory only: no autoinstall
            con = duckdb.connect(uri.text, read_only=not write, config=cfg)
    except duckdb.Error as exc:
        raise _translate(uri, exc) from None
    try:
        con.execute("SET GLOBAL TimeZone = 'UTC'")
        if attach:
            _load_extensions(con, uri.libpq is not None)
            opts = [] if write else ["READ_ONLY"]
            if data_dir is not None:
                opts.append("DATA_PATH " + _sql_str(str(data_dir).rstrip("/") + "/"))
            clause = f" ({', '.join(opts)})" if opts else ""
            try:
                con.execute(f"ATTACH {_sql_str(uri.text)} AS {ALIAS}{clause}")
                con.execute(f"USE {ALIAS}")
                # persisted in the catalog (before the lockdown: setting them afterwards crashes)
                for k, v in (options or {}).items():
                    con.execute(
                        "CALL ducklake_set_option($n, $k, $v)", {"n": ALIAS, "k": k, "v": v}
                    )
            except duckdb.Error as exc:
                raise _translate(uri, exc) from None
        data_path = _data_path(con)
        if data_dir is None and not Path(data_path).is_dir():
            raise LakeError(f"{uri}: the lake's data directory {data_path} is missing")
        for name, path in (extra or {}).items():
            con.execute(f"ATTACH {_sql_str(str(path))} AS {name} (READ_ONLY)")
        # Exactly the lake's data directory stays reachable once external access is off.
        con.execute("SET allowed_directories = [$d]", {"d": data_path})
        from ecotop.store import guard

        guard.lockdown(con)
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            con.close()
        raise
    return con


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _lake_name(con: duckdb.DuckDBPyConnection) -> str:
    """The name DuckDB gave the lake (its main database or `lake`): for DuckLake's functions."""
    return str(con.execute("SELECT current_database()").fetchall()[0][0])


def _meta_db(con: duckdb.DuckDBPyConnection) -> str:
    """The quoted name of the lake's catalog database, as DuckLake attaches it."""
    return '"__ducklake_metadata_' + _lake_name(con).replace('"', '""') + '"'


def _data_path(con: duckdb.DuckDBPyConnection) -> str:
    rows = con.execute(
        f"SELECT value FROM {_meta_db(con)}.ducklake_metadata WHERE key = 'data_path'"
    ).fetchall()
    if not rows:
        raise NotALake("the catalog records no data directory")
    path = str(rows[0][0])
    return path if path.endswith("/") else path + "/"


# -- the database object -------------------------------------------------------------------------


class LakeDatabase(Database):
    """An open lake: the same surface as a `store.Database` (cursor, meta, close).

    `path` holds the attach string (as a Path-like name for messages); `uri` the parsed string.
    Every cursor starts in the lake (`USE lake`), so the named queries run unchanged.
    """

    is_lake = True

    def __init__(self, uri: LakeURI, con: duckdb.DuckDBPyConnection, read_only: bool) -> None:
        super().__init__(Path(uri.text), con, read_only)
        self.uri = uri
        self._claims: Claims | None = None

    def snapshot(self) -> int:
        """The id of the lake's newest snapshot (what a new transaction reads)."""
        cur = self.cursor()
        try:
            return int(
                cur.execute(
                    "SELECT id FROM ducklake_current_snapshot($n)", {"n": _lake_name(cur)}
                ).fetchall()[0][0]
            )
        finally:
            cur.close()

    def data_path(self) -> str:
        """The lake's data directory, as its catalog records it."""
        cur = self.cursor()
        try:
            return _data_path(cur)
        finally:
            cur.close()

    def make_loader(self, cur: duckdb.DuckDBPyConnection) -> LakeLoader:
        """The spool's loader for this lake: each file under a lake-wide claim (LakeLoader)."""
        if self._claims is None:
            self._claims = Claims(self.uri)
        return LakeLoader(cur, self._claims)

    def close(self) -> None:
        """Close the connection and drop the claim connection (releasing any claim held)."""
        if self._claims is not None:
            self._claims.close()
            self._claims = None
        super().close()

    def __enter__(self) -> LakeDatabase:
        return self


def _schema_version(con: duckdb.DuckDBPyConnection) -> int | None:
    try:
        rows = con.execute("SELECT value FROM ecotop_meta WHERE key = 'schema_version'").fetchall()
    except duckdb.CatalogException:
        return None
    return int(rows[0][0]) if rows else None


def open_lake(
    target: object,
    *,
    write: bool = False,
    limits: Limits | None = None,
    allow_old: bool = False,
) -> LakeDatabase:
    """Open an existing ecotop lake by its attach string, read-only unless `write`.

    Raises LakeError (one line) when the catalog is unreachable, refuses the login, holds no lake or
    no ecotop lake, when the data directory is missing, or when the schema is of another version.
    """
    uri = parse_uri(target)
    if not _catalog_exists(uri):
        raise NotALake(f"{uri}: not a lake (create one with `ecotop lake init {uri} --data DIR`)")
    con = _connect(uri, write=write, limits=limits)
    version = _schema_version(con)
    if version is None:
        con.close()
        raise NotALake(f"{uri}: not an ecotop lake (no ecotop_meta table)")
    if version > SCHEMA_VERSION or (version < SCHEMA_VERSION and not allow_old):
        con.close()
        if version > SCHEMA_VERSION:
            raise errors.SchemaTooNew(Path(uri.text), version, SCHEMA_VERSION)
        raise LakeError(
            f"{uri}: schema version {version} is older than this ecotop's ({SCHEMA_VERSION}); "
            f"run `ecotop lake migrate {uri}`"
        )
    return LakeDatabase(uri, con, read_only=not write)


# -- the schema ------------------------------------------------------------------------------------


def lake_sql(sql: str) -> str:
    """A migration's SQL with what DuckLake cannot hold taken out (keys, uniques, checks, indexes)."""
    out = re.sub(r"\s+PRIMARY\s+KEY\b", "", sql, flags=re.I)
    out = re.sub(r"\s+UNIQUE\b", "", out, flags=re.I)
    out = re.sub(r"^\s*CREATE\s+(UNIQUE\s+)?INDEX\b[^;]*;", "", out, flags=re.I | re.M)
    return _strip_checks(out)


def _strip_checks(sql: str) -> str:
    out: list[str] = []
    i = 0
    pat = re.compile(r"\s+CHECK\s*\(", re.I)
    while True:
        m = pat.search(sql, i)
        if not m:
            out.append(sql[i:])
            return "".join(out)
        out.append(sql[i : m.start()])
        depth, j = 1, m.end()
        while j < len(sql) and depth:
            depth += {"(": 1, ")": -1}.get(sql[j], 0)
            j += 1
        i = j


def _partition(con: duckdb.DuckDBPyConnection, only_new: bool = False) -> None:
    """Partition event tables by day of `ts`, rollups by month of their bucket.

    `only_new`: only tables without a partitioning yet (a migration's new tables)."""
    done: set[str] = set()
    if only_new:
        done = {
            r[0]
            for r in con.execute(
                f"SELECT t.table_name FROM {_meta_db(con)}.ducklake_table t "
                f"JOIN {_meta_db(con)}.ducklake_partition_info p USING (table_id) "
                "WHERE t.end_snapshot IS NULL AND p.end_snapshot IS NULL"
            ).fetchall()
        }
    tables = con.execute(
        "SELECT c.table_name, list(c.column_name) FROM duckdb_columns() c "
        "SEMI JOIN duckdb_tables() t ON t.database_name = c.database_name "
        "AND t.schema_name = c.schema_name AND t.table_name = c.table_name "
        "WHERE c.database_name = $db AND c.schema_name = 'main' GROUP BY 1",
        {"db": _lake_name(con)},
    ).fetchall()
    for table, cols in tables:
        if table in done:
            continue
        if _PARTITION_COLUMN in cols:
            c = _PARTITION_COLUMN
            con.execute(
                f'ALTER TABLE "{table}" SET PARTITIONED BY (year({c}), month({c}), day({c}))'
            )
        elif table.startswith("rollup_") and (b := _bucket(cols)) is not None:
            con.execute(f'ALTER TABLE "{table}" SET PARTITIONED BY (year({b}), month({b}))')
        if table in _SORTED:
            # files written from now on, and those `lake maintain` merges, come out in this order
            con.execute(f'ALTER TABLE "{table}" SET SORTED BY ({_SORTED[table]})')


def _bucket(cols: list[str]) -> str | None:
    for c in ("minute", "hour", "day", "k", "week"):
        if c in cols:
            return c
    return None


def _set_meta(con: duckdb.DuckDBPyConnection, items: dict[str, str]) -> None:
    # No PRIMARY KEY in a lake, so no INSERT OR REPLACE: delete, then insert.
    for k, v in items.items():
        con.execute("DELETE FROM ecotop_meta WHERE key = $k", {"k": k})
        con.execute("INSERT INTO ecotop_meta VALUES ($k, $v)", {"k": k, "v": v})


def init_lake(
    target: object,
    data_dir: str | os.PathLike[str],
    *,
    inline_rows: int = INLINE_ROWS,
    limits: Limits | None = None,
    version: int = SCHEMA_VERSION,
) -> LakeDatabase:
    """Create the catalog and the schema of a new lake whose Parquet files go under `data_dir`.

    The data directory is created (mode 0700) when missing, its parent must exist. Refuses a
    catalog that already holds a lake. An insert of at most `inline_rows` rows is kept in the
    catalog itself (DuckLake's data inlining; `maintain` writes it out to Parquet) instead of a
    new small file per table and commit; 0 turns that off. `version` (tests) stops the schema
    at an older version.
    """
    uri = parse_uri(target)
    data = Path(data_dir).absolute()
    if not data.parent.is_dir():
        raise LakeError(f"{data.parent}: no such directory (for the lake's data directory)")
    if data.is_symlink():
        raise LakeError(f"{data}: is a symbolic link; give the data directory itself")
    if uri.file is not None and not uri.file.absolute().parent.is_dir():
        raise LakeError(f"{uri.file.parent}: no such directory (for the lake's catalog file)")
    if _catalog_exists(uri):
        raise LakeError(f"{uri}: already holds a lake")
    data.mkdir(mode=0o700, exist_ok=True)
    con = _connect(
        uri,
        write=True,
        limits=limits,
        data_dir=data,
        options={"data_inlining_row_limit": inline_rows},
    )
    try:
        con.execute("BEGIN")
        for f in sorted(MIGRATIONS_DIR.glob("*.sql")):
            if int(f.name.split("_", 1)[0]) <= version:
                con.execute(lake_sql(f.read_text()))
        _partition(con)
        _set_meta(con, {"schema_version": str(version), "sample_mod": "1"})
        con.execute("COMMIT")
    except duckdb.Error as exc:
        with contextlib.suppress(duckdb.Error):
            con.execute("ROLLBACK")
        raise LakeError(f"{uri}: cannot create the schema ({_first_line(exc)})") from None
    finally:
        con.close()
    return open_lake(uri, write=True, limits=limits, allow_old=version < SCHEMA_VERSION)


def migrate_lake(target: object, *, limits: Limits | None = None) -> tuple[int, int, int | None]:
    """Upgrade a lake's schema to this build's, one lake transaction per version.

    Returns (old version, new version, the snapshot before: DuckLake keeps it, so the lake as it
    was stays readable by time travel until `maintain` expires it); None when nothing was to do.
    """
    from ecotop.store.db import _AFTER, _migration_files

    db = open_lake(target, write=True, limits=limits, allow_old=True)
    con = db.con
    try:
        old = _schema_version(con) or 0
        if old == SCHEMA_VERSION:
            return old, old, None
        before = db.snapshot()
        files = _migration_files()
        for v in range(old + 1, SCHEMA_VERSION + 1):
            con.execute("BEGIN")
            try:
                con.execute(lake_sql(files[v].read_text()))
                _partition(con, only_new=True)
                if v == 2:  # its Python step writes ecotop_meta with INSERT OR REPLACE
                    from ecotop.store import rollups

                    n = con.execute("SELECT count(*) FROM users").fetchall()[0][0]
                    _set_meta(con, {"sample_mod": str(rollups.choose_sample_mod(n))})
                    rollups.rebuild(con)
                elif v in _AFTER:
                    _AFTER[v](con)
                _set_meta(con, {"schema_version": str(v)})
                con.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(duckdb.Error):
                    con.execute("ROLLBACK")
                raise
        return old, SCHEMA_VERSION, before
    except duckdb.Error as exc:
        raise _translate(db.uri, exc) from None
    finally:
        db.close()


# -- moving a file into a lake --------------------------------------------------------------------


def _lake_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [
        r[0]
        for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = $db "
            "AND schema_name = 'main' ORDER BY table_name",
            {"db": _lake_name(con)},
        ).fetchall()
    ]


def _order_column(con: duckdb.DuckDBPyConnection, db: str, table: str) -> str | None:
    cols = [
        r[0]
        for r in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE database_name = $db "
            "AND table_name = $t ORDER BY column_index",
            {"db": db, "t": table},
        ).fetchall()
    ]
    return _PARTITION_COLUMN if _PARTITION_COLUMN in cols else _bucket(cols)


def import_file(
    source: str | os.PathLike[str], target: object, *, limits: Limits | None = None
) -> dict[str, int]:
    """Copy every table of an ecotop file (raw events, rollups, ingest_log, meta) into an empty lake.

    One lake transaction: readers see all of the file or none of it. Returns rows per table.
    """
    from ecotop.store.db import open_db

    src = Path(source)
    # Opening checks the file (missing, not DuckDB, not ecotop, schema version) with clear errors.
    open_db(src).close()
    uri = parse_uri(target)
    if not _catalog_exists(uri):
        raise NotALake(f"{uri}: not a lake (create one with `ecotop lake init {uri} --data DIR`)")
    con = _connect(uri, write=True, limits=limits, extra={"src": src.absolute()})
    counts: dict[str, int] = {}
    try:
        version = _schema_version(con)
        if version is None:
            raise NotALake(f"{uri}: not an ecotop lake (no ecotop_meta table)")
        tables = _lake_tables(con)
        busy = [
            t
            for t in tables
            if t not in ("ecotop_meta",)
            and con.execute(f'SELECT count(*) FROM "{t}"').fetchall()[0][0]
        ]
        if busy:
            raise LakeError(
                f"{uri}: the lake already holds events ({busy[0]}); import into a new lake"
            )
        src_tables = {
            r[0]
            for r in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = 'src'"
            ).fetchall()
        }
        con.execute("BEGIN")
        try:
            for t in tables:
                if t not in src_tables:
                    continue
                if t == "ecotop_meta":
                    con.execute("DELETE FROM ecotop_meta")
                order = _order_column(con, "src", t)
                order_by = f" ORDER BY {order}" if order else ""
                cols = ", ".join(
                    f'"{r[0]}"'
                    for r in con.execute(
                        "SELECT column_name FROM duckdb_columns() WHERE database_name = $db "
                        "AND table_name = $t ORDER BY column_index",
                        {"db": _lake_name(con), "t": t},
                    ).fetchall()
                )
                con.execute(
                    f'INSERT INTO "{t}" ({cols}) SELECT {cols} FROM src.main."{t}"{order_by}'
                )
                counts[t] = int(con.execute(f'SELECT count(*) FROM "{t}"').fetchall()[0][0])
            con.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                con.execute("ROLLBACK")
            raise
    except duckdb.Error as exc:
        raise _translate(uri, exc) from None
    finally:
        con.close()
    return counts


# -- upkeep ----------------------------------------------------------------------------------------


def maintain(
    target: object,
    *,
    older_than: str = "1 hour",
    limits: Limits | None = None,
) -> dict[str, int]:
    """Write inlined rows out to Parquet, merge small files, expire snapshots older than
    `older_than` and delete files no snapshot refers to (a killed writer's included).

    Safe while writers and readers run: merging commits like any writer (a conflict with a writer
    is retried), expired snapshots are only those older than `older_than`, and a file is deleted
    only once no snapshot refers to it. Returns file counts before and after and what was done.
    """
    db = open_lake(target, write=True, limits=limits)
    cur = db.cursor()
    try:
        name = _lake_name(cur)
        before = _file_count(cur)
        p = {"n": name}
        flushed = _retry(lambda: cur.execute("CALL ducklake_flush_inlined_data($n)", p).fetchall())
        merged = _retry(lambda: cur.execute("CALL ducklake_merge_adjacent_files($n)", p).fetchall())
        age = _interval(older_than)
        expired = cur.execute(
            f"CALL ducklake_expire_snapshots($n, older_than => now() - INTERVAL '{age}')", p
        ).fetchall()
        cleaned = cur.execute(
            "CALL ducklake_cleanup_old_files($n, cleanup_all => true)", p
        ).fetchall()
        orphans = cur.execute(
            "CALL ducklake_delete_orphaned_files($n, cleanup_all => true)", p
        ).fetchall()
        after = _file_count(cur)
    except duckdb.Error as exc:
        raise _translate(db.uri, exc) from None
    finally:
        cur.close()
        db.close()
    return {
        "files_before": before,
        "files_after": after,
        "inlined_flushed": len(flushed),
        "merged": len(merged),
        "snapshots_expired": len(expired),
        "files_deleted": len(cleaned) + len(orphans),
    }


def _interval(text: str) -> str:
    if not re.fullmatch(r"\d+\s*(second|minute|hour|day|week)s?", text.strip()):
        raise LakeError(f"{text!r}: not an age (say e.g. '1 hour', '2 days')")
    return text.strip()


def _file_count(cur: duckdb.DuckDBPyConnection) -> int:
    return int(
        cur.execute(
            f"SELECT count(*) FROM {_meta_db(cur)}.ducklake_data_file WHERE end_snapshot IS NULL"
        ).fetchall()[0][0]
    )


def _retry(fn: Any, attempts: int = 5) -> Any:
    for i in range(attempts):
        try:
            return fn()
        except duckdb.TransactionException:
            if i == attempts - 1:
                raise
            time.sleep(0.1 * (i + 1))
    return None


# -- a lake-wide claim ------------------------------------------------------------------------------


class Claims:
    """Lake-wide claims on spool files by checksum, held while a writer commits one.

    With a Postgres catalog a claim is a session-level advisory lock on a dedicated connection: it
    is released when the writer commits (or rolls back) and releases it, or when its process dies
    (kill -9 included), so a file is never stuck. With a DuckDB-file catalog only one process can
    write the lake at all, so the claim is local.
    """

    def __init__(self, uri: LakeURI) -> None:
        self.uri = uri
        self._pg: Any = _pg_connect(uri.libpq) if uri.libpq is not None else None

    @staticmethod
    def key(checksum: str) -> int:
        """The advisory lock key of a checksum (a signed 64-bit integer)."""
        return int.from_bytes(
            hashlib.sha256(b"ecotop:" + checksum.encode()).digest()[:8], "big", signed=True
        )

    @contextlib.contextmanager
    def hold(self, checksum: str) -> Iterator[None]:
        """Hold the claim on `checksum` (waiting while another writer holds it)."""
        if self._pg is None:
            yield
            return
        k = self.key(checksum)
        self._pg.execute("SELECT pg_advisory_lock(%s)", (k,))
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                self._pg.execute("SELECT pg_advisory_unlock(%s)", (k,))

    _WRITES = "lake-writes"

    @contextlib.contextmanager
    def writing(self, alone: bool) -> Iterator[None]:
        """Hold the lake's write lock: shared while committing optimistically, exclusive (`alone`)
        to retry a commit that conflicted, so that the retry cannot conflict again."""
        if self._pg is None:
            yield
            return
        k = self.key(self._WRITES)
        fn = "pg_advisory_lock" if alone else "pg_advisory_lock_shared"
        self._pg.execute(f"SELECT {fn}(%s)", (k,))
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                self._pg.execute(f"SELECT {fn.replace('_lock', '_unlock')}(%s)", (k,))

    def close(self) -> None:
        if self._pg is not None:
            with contextlib.suppress(Exception):
                self._pg.close()
            self._pg = None


# -- ingesting spool files into a lake -------------------------------------------------------------

# DuckLake reports a commit that conflicts with another writer's (for example two updates of rows
# of the same data file) as a TransactionException mentioning a conflict.
_CONFLICT = re.compile(r"conflict|failed to commit", re.I)
COMMIT_ATTEMPTS = 8


class _OneTransaction:
    """A cursor whose BEGIN is a no-op while its owner holds a transaction open on it.

    On a lake each autocommit statement is a catalog round trip (registering an Arrow table costs
    12-16 ms there, against 1 ms inside a transaction), so LakeLoader runs everything a file needs
    (its checks, id lookups, writes) in ONE transaction. The Loader's own BEGIN then joins it; its
    COMMIT and ROLLBACK end it, as they would have ended the Loader's own.
    """

    def __init__(self, cur: duckdb.DuckDBPyConnection) -> None:
        self._cur = cur
        self.open = False

    def begin(self) -> None:
        self._cur.execute("BEGIN")
        self.open = True

    def end(self, commit: bool) -> None:
        if self.open:
            self.open = False
            self._cur.execute("COMMIT" if commit else "ROLLBACK")

    def execute(self, query: str, *args: Any, **kw: Any) -> Any:
        verb = query.strip().rstrip(";").upper()
        if verb in ("BEGIN", "BEGIN TRANSACTION") and self.open:
            return self._cur
        if verb in ("COMMIT", "ROLLBACK") and self.open:
            self.open = False
        return self._cur.execute(query, *args, **kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cur, name)


class LakeLoader(Loader):
    """The spool's Loader for a lake: exactly once across every writer of the lake.

    DuckLake enforces no UNIQUE key and concurrent appends never conflict, so the checksum identity
    of `ingest_log` is made lake-wide by hand: the writer takes the file's claim (Claims.hold, an
    advisory lock in the Postgres catalog), then checks `ingest_log` at the latest snapshot and
    loads the file in one lake transaction (raw rows, rollup deltas, ingest_log row) before it lets
    the claim go. A second writer holding the same file waits for the claim, then finds it
    ingested and logs a duplicate.

    Commits are serialized lake-wide (`Claims.writing`): DuckLake has no PRIMARY KEY, so two
    writers creating the same id (a user, an article two producers both announce) would both
    succeed; one at a time, each checks the ids it creates against the lake first (`already exists
    in the lake`, as a file's key would refuse them) and its checks hold until its COMMIT. Parsing,
    typing and checking a file without the lake still run in parallel on every host. A commit that
    conflicts anyway (with `lake maintain` merging files) is retried whole.
    """

    def __init__(self, cur: duckdb.DuckDBPyConnection, claims: Claims) -> None:
        self._txn = _OneTransaction(cur)
        super().__init__(self._txn)  # type: ignore[arg-type]
        self.claims = claims
        self.retries = 0

    def commit(self, prep: Prepared, *, crash: Callable[[str], None] | None = None) -> FileResult:
        with self.claims.hold(prep.res.checksum):
            for attempt in range(COMMIT_ATTEMPTS):
                try:
                    # one writer of the lake commits at a time: its checks against the lake (the
                    # file's checksum, the ids it creates) then hold until its COMMIT
                    with self.claims.writing(alone=True):
                        self._txn.begin()  # the latest snapshot: ingest_log is checked in it
                        if not prep.duplicate and not self.already_ingested(prep.res.checksum):
                            self._refuse_existing_keys(prep)
                        res = super().commit(prep, crash=crash)
                        self._txn.end(commit=True)  # a duplicate's ingest_log row
                    return res
                except duckdb.TransactionException as exc:
                    self._txn.end(commit=False)
                    if not _CONFLICT.search(str(exc)) or attempt == COMMIT_ATTEMPTS - 1:
                        raise
                    if os.environ.get("ECOTOP_LAKE_DEBUG"):
                        print(f"lake: retrying {prep.res.name}: {exc}", file=sys.stderr)
                    self.retries += 1
                    time.sleep(0.05 * (attempt + 1))
                except BaseException:
                    self._txn.end(commit=False)
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _refuse_existing_keys(self, prep: Prepared) -> None:
        """A lake has no PRIMARY KEY: refuse ids the lake already holds, as a file's key would.

        Rows marked `if_new` (entities re-announced by a producer) are left to the Loader, which
        drops those the lake holds. Runs under the exclusive write lock, so it is exact.
        """
        import pyarrow as pa
        import pyarrow.compute as pc

        from ecotop.store.spool import MAX_PROBLEMS, Problem, Rejected
        from ecotop.store.spool_format import KINDS

        problems: list[Problem] = []
        for k, typed in prep.typed.items():
            kind = KINDS.get(k)
            if kind is None or kind.key is None or kind.update or not typed.num_rows:
                continue
            col = kind.get(kind.key).col
            t = typed
            if "if_new" in t.column_names:
                t = t.filter(pc.invert(pc.fill_null(t.column("if_new"), False)))
            if not t.num_rows:
                continue
            cur = self._txn
            cur.register("_lake_keys", pa.table({"id": pc.unique(t.column(col))}))
            try:
                found = cur.sql(
                    f'SELECT x."{col}" FROM {kind.table} x SEMI JOIN _lake_keys k ON x."{col}" = k.id'
                ).to_arrow_table()
            finally:
                cur.unregister("_lake_keys")
            if found.num_rows:
                dup = t.filter(pc.is_in(t.column(col), value_set=found.column(0)))
                lines = dup.column("line").to_pylist() if "line" in dup.column_names else [0]
                for line, v in list(zip(lines, dup.column(col).to_pylist(), strict=False))[
                    :MAX_PROBLEMS
                ]:
                    problems.append(
                        Problem(int(line or 0), kind.key, f"{v} already exists in the lake")
                    )
        if problems:
            raise Rejected(problems, unit=prep.unit)
