"""Fixtures of the lake tests: a private Postgres (the catalog) and fresh lakes in it.

`.ci/run` starts Postgres (.ci/postgres.sh) and exports ECOTOP_TEST_PG (a libpq connection string);
without it this starts its own: initdb into a temporary directory, a free port on 127.0.0.1, as the
`postgres` user when run as root (initdb refuses root), stopped when the session ends. The tests
skip, saying why, only when no Postgres can be had at all; under CI (CI=true) they fail instead.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from lake_names import PASSWORD_ROLE

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the shared test helpers (spool_events, ...)


def _pg_bin() -> Path | None:
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).parent
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(d, "initdb").exists() and Path(d, "pg_ctl").exists():
            return Path(d)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Postgres:
    """A Postgres server the tests may create databases in (and stop and start, if private)."""

    dsn: str  # libpq string of the maintenance database, no password
    host: str
    port: int
    user: str
    bin: Path | None = None
    data: Path | None = None
    root: Path | None = None

    def _as_owner(self, *args: str) -> list[str]:
        if os.geteuid() == 0:
            return ["runuser", "-u", "postgres", "--", *args]
        return list(args)

    def stop(self) -> None:
        assert self.bin and self.data, "only a private server can be stopped"
        subprocess.run(
            self._as_owner(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "stop"),
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        assert self.bin and self.data and self.root
        subprocess.run(
            self._as_owner(
                str(self.bin / "pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.root / "log"),
                "-w",
                "-o",
                f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1",
                "start",
            ),
            check=True,
            capture_output=True,
        )

    def sql(self, statement: str, dbname: str | None = None) -> list[tuple[object, ...]]:
        import psycopg

        dsn = self.dsn if dbname is None else f"{self.dsn} dbname={dbname}"
        with psycopg.connect(dsn, autocommit=True) as con:
            cur = con.execute(statement)  # type: ignore[arg-type]
            return cur.fetchall() if cur.description else []

    def libpq(self, dbname: str, user: str | None = None) -> str:
        return f"dbname={dbname} host={self.host} port={self.port} user={user or self.user}"


def _password_role(data: Path | None) -> None:
    assert data is not None
    hba = data / "pg_hba.conf"
    text = hba.read_text()
    hba.write_text(f"host all {PASSWORD_ROLE} 127.0.0.1/32 scram-sha-256\n" + text)


def _private() -> Iterator[Postgres]:
    pg_bin = _pg_bin()
    if pg_bin is None:
        reason = "no Postgres here (initdb/pg_ctl not found; apt-get install postgresql)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    root = Path(tempfile.mkdtemp(prefix="ecotop-pg-"))
    os.chmod(root, 0o700)
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    port = _free_port()
    pg = Postgres(
        f"host=127.0.0.1 port={port} user=postgres dbname=postgres",
        "127.0.0.1",
        port,
        "postgres",
        pg_bin,
        root / "data",
        root,
    )
    try:
        subprocess.run(
            pg._as_owner(
                str(pg_bin / "initdb"), "-D", str(pg.data), "-A", "trust", "-U", "postgres"
            ),
            check=True,
            capture_output=True,
        )
        _password_role(pg.data)
        pg.start()
    except (subprocess.CalledProcessError, OSError) as exc:
        shutil.rmtree(root, ignore_errors=True)
        reason = f"cannot start a private Postgres: {exc}"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    try:
        yield pg
    finally:
        subprocess.run(
            pg._as_owner(str(pg_bin / "pg_ctl"), "-D", str(pg.data), "-m", "immediate", "stop"),
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """The Postgres of the lake tests: CI's (ECOTOP_TEST_PG) or a private one."""
    pytest.importorskip("psycopg")
    dsn = os.environ.get("ECOTOP_TEST_PG")
    if dsn:
        parts = dict(p.split("=", 1) for p in dsn.split())
        yield Postgres(
            dsn,
            parts.get("host", "127.0.0.1"),
            int(parts.get("port", "5432")),
            parts.get("user", "postgres"),
        )
        return
    yield from _private()


@pytest.fixture(scope="session")
def private_postgres() -> Iterator[Postgres]:
    """A Postgres of this test session only (tests that stop and start the server)."""
    pytest.importorskip("psycopg")
    yield from _private()


_names = itertools.count()


@dataclass
class Lake:
    """A new, empty catalog database and the data directory a lake may use."""

    uri: str
    data: Path
    dbname: str


def _new_lake(pg: Postgres, tmp: Path) -> Lake:
    name = f"lake_{os.getpid()}_{next(_names)}"
    pg.sql(f"DROP DATABASE IF EXISTS {name}")
    pg.sql(f"CREATE DATABASE {name}")
    return Lake(f"ducklake:postgres:{pg.libpq(name)}", tmp / f"{name}-data", name)


@pytest.fixture
def new_lake(postgres: Postgres, tmp_path: Path) -> Callable[[], Lake]:
    """Make a new catalog database (and name a data directory) per call."""
    return lambda: _new_lake(postgres, tmp_path)


@pytest.fixture(scope="session")
def sample_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated ecotop file (scale 0.002, 10 days), made once per session."""
    from datetime import datetime

    from ecotop.sample_data import generate

    path = tmp_path_factory.mktemp("lake_sample") / "sample.duckdb"
    generate(
        path, scale=0.002, seed=3, days=10, end=datetime.fromisoformat("2026-11-20T12:00:00+08:00")
    )
    return path


@pytest.fixture(scope="session")
def sample_lake(
    postgres: Postgres, sample_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> Lake:
    """A Postgres-catalog lake holding `sample_file`'s events (made once; open it read-only)."""
    from ecotop.store import lake

    lk = _new_lake(postgres, tmp_path_factory.mktemp("lake_data"))
    lake.init_lake(lk.uri, lk.data).close()
    lake.import_file(sample_file, lk.uri)
    return lk
