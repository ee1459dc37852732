"""Files beside the database: planted links, squatted names, relative paths, groups, stale writers.

A second user with a shell account can write a shared group directory and /tmp. Nothing ecotop
creates may be written through a link that user planted, no name ecotop needs may be pre-empted, and
a stale info file (a recycled PID) must not lock readers out.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from sechelp import ECOTOP, ROOT, env, start_serve, stop

from ecotop.store.remote import info_path, read_info, secret_path


def _victim(d: Path) -> Path:
    v = d / "victim.txt"
    v.write_text("precious\n")
    os.chmod(v, 0o600)
    return v


def test_planted_links_beside_the_file_are_never_written_through(
    dbfile: Path, shared_dir: Path
) -> None:
    victim = _victim(shared_dir)
    planted = [
        dbfile.with_name(dbfile.name + ".ecotop-serve.json.tmp"),  # the old fixed temp name
        info_path(dbfile),
        secret_path(dbfile),
    ]
    for p in planted:
        p.symlink_to(victim)
    proc = start_serve(dbfile)
    try:
        assert victim.read_text() == "precious\n"
        assert stat.S_IMODE(victim.stat().st_mode) == 0o600
        for p in (info_path(dbfile), secret_path(dbfile)):
            assert not p.is_symlink() and p.is_file()
        r = subprocess.run(
            [*ECOTOP, "query", str(dbfile), "SELECT 42 AS x", "--format", "csv"],
            capture_output=True,
            text=True,
            env=env(),
            cwd=ROOT,
            timeout=60,
        )
        assert r.returncode == 0 and r.stdout == "x\n42\n", r.stderr
    finally:
        stop(proc)
    assert victim.read_text() == "precious\n"
    assert not info_path(dbfile).exists() and not secret_path(dbfile).exists()


def test_the_socket_lives_in_a_fresh_private_directory(dbfile: Path) -> None:
    proc = start_serve(dbfile)
    try:
        info = json.loads(info_path(dbfile).read_text())
        sock = Path(info["socket"])
        d = Path(info["socket_dir"])
        assert sock.parent == d and len(str(sock)) < 108
        st = os.lstat(d)
        assert st.st_uid == os.getuid() and stat.S_IMODE(st.st_mode) in (0o700, 0o750)
        assert stat.S_ISSOCK(os.lstat(sock).st_mode)
    finally:
        stop(proc)
    assert not d.exists()


def test_a_squatted_predictable_socket_name_does_not_stop_serving(shared_dir: Path) -> None:
    from sechelp import make_db

    deep = shared_dir / ("d" * 60) / ("e" * 40)
    deep.mkdir(parents=True)
    path = make_db(deep / "long-name.duckdb")
    # what the old code would have used for a long path, created first by somebody else
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:16]
    squat = Path("/tmp") / f"ecotop-{digest}.sock"
    squat.write_text("mine")
    try:
        proc = start_serve(path)
        try:
            r = subprocess.run(
                [*ECOTOP, "query", str(path), "SELECT 1 AS x", "--format", "csv"],
                capture_output=True,
                text=True,
                env=env(),
                cwd=ROOT,
                timeout=60,
            )
            assert r.returncode == 0, r.stderr
        finally:
            err = stop(proc)
        assert "Traceback" not in err
        assert squat.read_text() == "mine"
    finally:
        squat.unlink()


def test_a_relative_file_serves_and_leaves_nothing_behind(dbfile: Path) -> None:
    proc = start_serve(dbfile, cwd=dbfile.parent, arg=dbfile.name)
    try:
        r = subprocess.run(
            [*ECOTOP, "query", str(dbfile), "SELECT 7 AS x", "--format", "csv"],
            capture_output=True,
            text=True,
            env=env(),
            cwd="/",
            timeout=60,
        )
        assert r.returncode == 0 and r.stdout == "x\n7\n", r.stderr
        assert read_info(dbfile) is not None
    finally:
        err = stop(proc)
    assert "Traceback" not in err
    assert sorted(p.name for p in dbfile.parent.iterdir()) == ["a.duckdb"]


def test_a_stale_info_file_with_a_live_pid_does_not_block_readers(
    dbfile: Path, shared_dir: Path
) -> None:
    # PID 1 is always alive; a socket path that exists but nobody answers on
    dead = shared_dir / "dead.sock"
    import socket

    s = socket.socket(socket.AF_UNIX)
    s.bind(str(dead))
    s.close()
    info_path(dbfile).write_text(
        json.dumps({"pid": 1, "socket": str(dead), "started": "", "version": "0"})
    )
    secret_path(dbfile).write_bytes(b"stale")
    r = subprocess.run(
        [*ECOTOP, "query", str(dbfile), "SELECT 5 AS x", "--format", "csv"],
        capture_output=True,
        text=True,
        env=env(),
        cwd=ROOT,
        timeout=60,
    )
    assert r.returncode == 0 and r.stdout == "x\n5\n", r.stderr


def test_group_readers_use_a_served_file(dbfile: Path, other_user) -> None:  # type: ignore[no-untyped-def]
    # the file belongs to the reader's group (not the owner's): info, secret and socket follow it
    os.chown(dbfile, -1, other_user.gid)
    os.chmod(dbfile, 0o640)
    os.chmod(dbfile.parent, 0o775)
    proc = start_serve(dbfile)
    try:
        for p in (info_path(dbfile), secret_path(dbfile)):
            assert os.stat(p).st_gid == other_user.gid, p
        code, out, err = other_user.ecotop("query", str(dbfile), "SELECT 3 AS x", "--format", "csv")
        assert code == 0 and out == "x\n3\n", err
    finally:
        stop(proc)


def test_another_users_planted_link_in_a_shared_directory(
    dbfile: Path, shared_dir: Path, other_user
) -> None:  # type: ignore[no-untyped-def]
    victim = _victim(shared_dir)
    tmpname = dbfile.with_name(dbfile.name + ".ecotop-serve.json.tmp")
    assert other_user.shell("ln", "-s", str(victim), str(tmpname)) == 0
    proc = start_serve(dbfile)
    stop(proc)
    assert victim.read_text() == "precious\n" and stat.S_IMODE(victim.stat().st_mode) == 0o600


def test_unreadable_database_is_one_line_exit_1(dbfile: Path, other_user) -> None:  # type: ignore[no-untyped-def]
    os.chmod(dbfile, 0o600)
    os.chmod(dbfile.parent, 0o755)
    for args, code in (
        (["query", str(dbfile), "SELECT 1"], 1),
        (["kpis", str(dbfile)], 1),
        (["check", str(dbfile)], 3),
    ):
        got, _, err = other_user.ecotop(*args)
        assert got == code, (args, got, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and str(dbfile) in lines[0], err
        assert "permission" in lines[0].lower(), err


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.6, 1.0, 1.5])
def test_dashboard_hangup_during_start_up_ends_the_process(
    small_db: Path, tmp_path: Path, delay: float
) -> None:
    """A writer dashboard (--spool) whose terminal closes while it starts must end, lock released."""
    import pty
    import signal
    import time

    path = tmp_path / "s.duckdb"
    shutil.copy(small_db, path)
    spool = tmp_path / "spool"
    spool.mkdir()
    pid, fd = pty.fork()
    if pid == 0:  # the child: the dashboard on a terminal
        os.environ.update(env())
        os.chdir(ROOT)
        os.execv(
            sys.executable,
            [sys.executable, "-m", "ecotop.tui.cli", str(path), "--spool", str(spool)],
        )
    t0 = time.monotonic()
    while time.monotonic() - t0 < delay:  # drain the screen like a terminal would
        try:
            os.read(fd, 65536)
        except OSError:
            break
    os.close(fd)  # the terminal closes: SIGHUP to the session
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.05)
    else:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        pytest.fail(f"the dashboard kept running after its terminal closed at {delay} s")
    from ecotop.store import open_db

    with open_db(path, write=True) as db:  # the write lock was released
        assert db.cursor().execute("SELECT count(*) FROM ecotop_meta").fetchall()[0][0] > 0


def test_ingest_watch_with_a_relative_file_serves(dbfile: Path) -> None:
    (dbfile.parent / "sp").mkdir()
    proc = subprocess.Popen(
        [*ECOTOP, "ingest", dbfile.name, "--spool", "sp", "--watch", "-q"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env(),
        cwd=dbfile.parent,
    )
    try:
        import time

        deadline = time.monotonic() + 30
        while read_info(dbfile) is None and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        r = subprocess.run(
            [*ECOTOP, "query", str(dbfile), "SELECT 9 AS x", "--format", "csv"],
            capture_output=True,
            text=True,
            env=env(),
            cwd="/",
            timeout=60,
        )
        assert r.returncode == 0 and r.stdout == "x\n9\n", r.stderr
    finally:
        err = stop(proc)
    assert "Traceback" not in err
    assert sorted(p.name for p in dbfile.parent.iterdir()) == ["a.duckdb", "sp"]


def test_console_export_never_writes_through_a_planted_link(shared_dir: Path) -> None:
    import pyarrow as pa

    from ecotop.tui import export

    victim = _victim(shared_dir)
    out = shared_dir / "r.csv"
    # the old predictable partial name, planted for this process
    out.with_name(f".{out.name}.{os.getpid()}.partial").symlink_to(victim)
    t = pa.table({"a": [1, 2]})
    assert export.write(t.to_batches(), t.schema, out) == 2
    assert victim.read_text() == "precious\n"
    assert out.read_text().splitlines() == ['"a"', "1", "2"]


def test_console_export_never_replaces_a_database_or_a_wal(dbfile: Path) -> None:
    import pyarrow as pa

    from ecotop.tui import export

    before = dbfile.read_bytes()
    t = pa.table({"a": [1]})
    for target in (dbfile, dbfile.with_name(dbfile.name + ".wal")):
        with pytest.raises(export.ExportError, match="DuckDB"):
            export.check_path(target, overwrite=True)
        with pytest.raises(export.ExportError, match="DuckDB"):
            export.write(t.to_batches(), t.schema, target, "csv")
    assert dbfile.read_bytes() == before
    assert not dbfile.with_name(dbfile.name + ".wal").exists()


def test_migrate_backup_never_writes_through_a_planted_link(shared_dir: Path) -> None:
    from ecotop import store

    path = shared_dir / "old.duckdb"
    store.create_db(path, version=1).close()
    victim = shared_dir / "victim-new.txt"  # a dangling link: following it would create the victim
    (shared_dir / "old.duckdb.v1.bak").symlink_to(victim)
    old, new, backup = store.migrate(path)
    assert (old, new) == (1, store.db.SCHEMA_VERSION) and backup is not None
    assert not victim.exists()
    assert backup.name == "old.duckdb.v1.2.bak" and not backup.is_symlink()
    assert stat.S_IMODE(backup.stat().st_mode) == stat.S_IMODE(path.stat().st_mode)


@pytest.mark.slow
def test_a_dashboard_on_a_relative_file_serves_readers(dbfile: Path) -> None:
    """`cd dir && ecotop a.duckdb --spool sp`: readers elsewhere get answers, not "locked"."""
    import pty
    import signal
    import time

    (dbfile.parent / "sp").mkdir()
    pid, fd = pty.fork()
    if pid == 0:  # the child: the dashboard on a terminal, started with relative paths
        os.environ.update(env())
        os.chdir(dbfile.parent)
        os.execv(
            sys.executable, [sys.executable, "-m", "ecotop.tui.cli", dbfile.name, "--spool", "sp"]
        )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and read_info(dbfile) is None:
            try:
                os.read(fd, 65536)
            except OSError:
                break
        r = subprocess.run(
            [*ECOTOP, "query", str(dbfile), "SELECT 11 AS x", "--format", "csv"],
            capture_output=True,
            text=True,
            env=env(),
            cwd="/",
            timeout=60,
        )
        assert r.returncode == 0 and r.stdout == "x\n11\n", r.stderr
        deadline = time.monotonic() + 20
        pressed = 0.0
        while time.monotonic() < deadline:
            if time.monotonic() - pressed > 1.0:  # quit (again, if it was still starting)
                with contextlib.suppress(OSError):
                    os.write(fd, b"q")
                pressed = time.monotonic()
            import select

            with contextlib.suppress(OSError):
                if select.select([fd], [], [], 0.1)[0]:
                    os.read(fd, 65536)
            if os.waitpid(pid, os.WNOHANG)[0]:
                break
    finally:
        with contextlib.suppress(ProcessLookupError, ChildProcessError):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    assert sorted(p.name for p in dbfile.parent.iterdir()) == ["a.duckdb", "sp"]


def test_a_killed_writers_socket_directory_is_swept_by_the_next(dbfile: Path) -> None:
    import signal
    import time

    proc = start_serve(dbfile)
    d = Path(json.loads(info_path(dbfile).read_text())["socket_dir"])
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert d.exists()  # kill -9 leaves it
    old = time.time() - 120
    os.utime(d, (old, old))
    proc = start_serve(dbfile)
    try:
        assert not d.exists()
        # a live writer's directory is never swept, however old
        live = Path(json.loads(info_path(dbfile).read_text())["socket_dir"])
        os.utime(live, (old, old))
        from ecotop.store.server import _sweep_socket_dirs

        _sweep_socket_dirs(live.parent)
        assert live.exists()
    finally:
        stop(proc)
