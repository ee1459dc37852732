"""One writer serves the file; every other ecotop process answers through it (real processes)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ecotop.store import open_db
from ecotop.store.errors import Locked, SqlRefused, StoreError
from ecotop.store.remote import AccessDenied, RemoteDatabase, info_path, read_info, secret_path

ECOTOP = [sys.executable, "-m", "ecotop.tui.cli"]
ROOT = Path(__file__).resolve().parent.parent


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT)
    return env


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ECOTOP, *args], capture_output=True, text=True, timeout=timeout, env=_env(), cwd=ROOT
    )


def start_writer(path: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [*ECOTOP, "serve", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
        cwd=ROOT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        info = read_info(path)
        if info is not None and info.pid == proc.pid:
            return proc
        if proc.poll() is not None:
            raise AssertionError(f"writer exited: {proc.stderr.read()}")
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("writer did not start serving")


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def served_copy(small_db: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "served.duckdb"
    shutil.copy(small_db, dst)
    return dst


@pytest.mark.slow
def test_readers_get_the_same_numbers_through_the_writer(served_copy: Path) -> None:
    direct = run("kpis", str(served_copy), "--range", "24h", "--json")
    assert direct.returncode == 0, direct.stderr
    writer = start_writer(served_copy)
    try:
        # a direct open is impossible while the writer holds the file ...
        with pytest.raises(Locked):
            from ecotop.store.db import connect

            connect(served_copy)
        # ... yet every command answers, through the socket, identically
        via = [run("kpis", str(served_copy), "--range", "24h", "--json") for _ in range(3)]
        for r in via:
            assert r.returncode == 0, r.stderr
            assert json.loads(r.stdout) == json.loads(direct.stdout)
        q = run(
            "query", str(served_copy), "SELECT count(*) AS n FROM transactions", "--format", "json"
        )
        assert q.returncode == 0, q.stderr
        assert json.loads(q.stdout)[0]["n"] > 0
        bad = run("query", str(served_copy), "DELETE FROM transactions")
        assert bad.returncode == 1 and "Traceback" not in bad.stderr
    finally:
        stop(writer)
    assert not info_path(served_copy).exists() and not secret_path(served_copy).exists()
    after = run(
        "query", str(served_copy), "SELECT count(*) AS n FROM transactions", "--format", "json"
    )
    assert json.loads(after.stdout) == json.loads(q.stdout)


@pytest.mark.slow
def test_same_errors_and_exit_codes_through_the_socket(served_copy: Path) -> None:
    writer = start_writer(served_copy)
    try:
        r = run("kpis", str(served_copy), "--range", "2w")
        assert r.returncode == 2
        r = run("query", str(served_copy), "SELEC 1")
        assert r.returncode == 1 and r.stderr.count("\n") == 1, r.stderr
        r = run("query", str(served_copy), "SELECT * FROM read_csv('/etc/passwd')")
        assert r.returncode == 1 and "Traceback" not in r.stderr
    finally:
        stop(writer)


def test_hostile_sql_through_the_socket_changes_nothing(served_copy: Path) -> None:
    writer = start_writer(served_copy)
    try:
        db = open_db(served_copy)
        assert isinstance(db, RemoteDatabase) and db.pid == writer.pid
        cur = db.cursor()
        before = cur.execute("SELECT count(*), sum(amount) FROM transactions").fetchall()
        for sql in [
            "DELETE FROM transactions",
            "DROP TABLE users",
            "SET threads = 64",
            "ATTACH '/tmp/x.duckdb' AS x",
            "COPY transactions TO '/tmp/leak.csv'",
            "SELECT * FROM read_text('/etc/passwd')",
            "SELECT nextval('s')",
            "SELECT * FROM query('DELETE FROM users')",
            "EXPLAIN ANALYZE DELETE FROM transactions",
            "SELECT 1; DELETE FROM transactions",
        ]:
            with pytest.raises(StoreError) as info:
                cur.adhoc(sql, 10)
            assert "\n" not in str(info.value)
            with pytest.raises(StoreError):
                cur.sql(sql).to_arrow_table()
        # named queries cannot be abused either: unknown names are refused
        with pytest.raises(StoreError):
            cur.run_named("../../etc/passwd", {})
        assert cur.execute("SELECT count(*), sum(amount) FROM transactions").fetchall() == before
        assert not Path("/tmp/leak.csv").exists()
        db.close()
    finally:
        stop(writer)


def test_access_needs_the_secret(served_copy: Path) -> None:
    writer = start_writer(served_copy)
    try:
        info = read_info(served_copy)
        assert info is not None
        mode = os.stat(secret_path(served_copy)).st_mode & 0o777
        assert mode & 0o007 == 0, oct(mode)  # never readable by others
        intruder = RemoteDatabase(served_copy, info, b"not-the-secret")
        with pytest.raises(AccessDenied):
            intruder.cursor().execute("SELECT 1").fetchall()
        with pytest.raises(AccessDenied):
            intruder.cursor().adhoc("SELECT * FROM users", 5)
    finally:
        stop(writer)


def test_kill_9_of_the_writer_then_readers_open_directly(served_copy: Path) -> None:
    writer = start_writer(served_copy)
    db = open_db(served_copy)
    assert isinstance(db, RemoteDatabase)
    cur = db.cursor()
    n = cur.execute("SELECT count(*) FROM users").fetchall()[0][0]
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    t0 = time.monotonic()
    with pytest.raises(StoreError) as info:
        cur.execute("SELECT count(*) FROM users").fetchall()
    assert time.monotonic() - t0 < 2.0
    assert "went away" in str(info.value)
    # the stale socket and info are detected; a fresh open reads the file directly
    assert read_info(served_copy) is None
    direct = open_db(served_copy)
    assert not isinstance(direct, RemoteDatabase)
    assert direct.cursor().execute("SELECT count(*) FROM users").fetchall()[0][0] == n
    direct.close()
    # and a new writer replaces the stale socket
    writer2 = start_writer(served_copy)
    try:
        again = open_db(served_copy)
        assert isinstance(again, RemoteDatabase) and again.pid == writer2.pid
        assert again.cursor().execute("SELECT count(*) FROM users").fetchall()[0][0] == n
    finally:
        stop(writer2)


def test_two_writers_one_wins_the_other_says_who(served_copy: Path) -> None:
    writer = start_writer(served_copy)
    try:
        r = run("serve", str(served_copy), timeout=30)
        assert r.returncode == 1
        assert str(writer.pid) in r.stderr and "Traceback" not in r.stderr
        with pytest.raises(Locked):
            open_db(served_copy, write=True)
    finally:
        stop(writer)


@pytest.mark.slow
def test_per_client_limits(served_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECOTOP_SERVE_ADHOC_TIMEOUT", "0.5")
    writer = subprocess.Popen(
        [*ECOTOP, "serve", str(served_copy)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**_env(), "ECOTOP_SERVE_ADHOC_TIMEOUT": "0.5"},
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 30
        while read_info(served_copy) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        db = open_db(served_copy)
        t0 = time.monotonic()
        with pytest.raises(SqlRefused) as info:
            db.cursor().adhoc("SELECT count(*) FROM range(100000000000) a", None)
        assert "time limit" in str(info.value)
        assert time.monotonic() - t0 < 5
        # the writer still serves afterwards
        assert db.cursor().execute("SELECT 1").fetchall() == [(1,)]
    finally:
        stop(writer)


@pytest.mark.slow
async def test_dashboard_reads_through_the_writer_and_survives_its_death(served_copy: Path) -> None:
    from ecotop.store.remote import RemoteDatabase
    from ecotop.tui.app import make_app
    from ecotop.tui.widgets.status import StatusBar

    writer = start_writer(served_copy)
    try:
        app = make_app(served_copy, rules=(), refresh_s=30.0)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause(0.5)
            assert isinstance(app.db, RemoteDatabase) and app.db.pid == writer.pid
            bar = app.screen.query_one(StatusBar)
            assert f"via PID {writer.pid}" in bar.plain
            os.kill(writer.pid, signal.SIGKILL)
            writer.wait()
            t0 = time.monotonic()
            while isinstance(app.db, RemoteDatabase) and time.monotonic() - t0 < 5:
                await pilot.pause(0.1)
            # noticed within 2 s, and the file is now read directly, without a restart
            assert time.monotonic() - t0 < 2.0
            assert not isinstance(app.db, RemoteDatabase)
            app.request_refresh()
            await pilot.pause(0.5)
            assert "via PID" not in app.screen.query_one(StatusBar).plain
            assert app.last_error is None
    finally:
        stop(writer)


def test_ingest_watch_serves_its_file(served_copy: Path, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    writer = subprocess.Popen(
        [*ECOTOP, "ingest", str(served_copy), "--spool", str(spool), "--watch"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 30
        while read_info(served_copy) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        r = run("query", str(served_copy), "SELECT count(*) AS n FROM users", "--format", "json")
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)[0]["n"] > 0
        db = open_db(served_copy)
        assert isinstance(db, RemoteDatabase) and db.pid == writer.pid
        db.close()
    finally:
        stop(writer)
    assert read_info(served_copy) is None
