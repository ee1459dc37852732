"""The spill directory: private to one process, gone when it ends, a killed one's swept by its owner.

SQL can read DuckDB's temp directory even with external access off, and `histogram('<temp>/x', a)`
read a planted file there; a killed query left 1.3 GB of spill files nobody removed.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from sechelp import ROOT, env

from ecotop.store import guard
from ecotop.store.errors import SqlRefused

PROBE = (
    "from ecotop.store.db import connect\n"
    "import sys\n"
    "con = connect(sys.argv[1], write=True, create=True)\n"
    "print(con.execute(\"SELECT current_setting('temp_directory')\").fetchall()[0][0])\n"
)


def _spill_dir_of_a_process(base: Path, tmp: Path) -> str:
    r = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp / "p.duckdb")],
        capture_output=True,
        text=True,
        env=env(ECOTOP_TEMP_DIR=str(base)),
        cwd=ROOT,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_each_process_spills_into_its_own_private_directory_removed_at_exit(
    shared_dir: Path, tmp_path: Path
) -> None:
    d1 = _spill_dir_of_a_process(shared_dir, tmp_path)
    (tmp_path / "p.duckdb").unlink()
    d2 = _spill_dir_of_a_process(shared_dir, tmp_path)
    assert d1 != d2
    assert Path(d1).parent == shared_dir and Path(d2).parent == shared_dir
    assert not os.path.exists(d1) and not os.path.exists(d2)  # removed when each process ended


def test_the_spill_directory_is_0700(shared_dir: Path) -> None:
    from ecotop.store.tempdir import process_temp_dir

    d = Path(process_temp_dir(shared_dir))
    st = os.lstat(d)
    assert stat.S_IMODE(st.st_mode) == 0o700 and st.st_uid == os.getuid()


def test_stale_directories_of_this_user_are_swept_others_kept(shared_dir: Path, other_user) -> None:  # type: ignore[no-untyped-def]
    from ecotop.store import tempdir

    dead = shared_dir / "ecotop-999999-abc"  # a killed process's spill (PID far beyond pid_max)
    dead.mkdir()
    (dead / "duckdb_temp_storage-0.tmp").write_bytes(b"\0" * 1024)
    live = shared_dir / f"ecotop-{os.getppid()}-abc"  # a live process of this user: kept
    live.mkdir()
    theirs = shared_dir / "ecotop-999998-xyz"
    assert other_user.shell("mkdir", str(theirs)) == 0
    tempdir._mine.clear()
    tempdir.process_temp_dir(shared_dir)
    assert not dead.exists() and live.exists() and theirs.exists()


def test_histogram_cannot_read_a_planted_file_in_the_spill_directory(shared_dir: Path) -> None:
    planted = shared_dir / "planted.csv"
    planted.write_text("a\nsecret\n")
    for sql in (
        f"FROM histogram('{planted}', a)",
        f"FROM histogram_values('{planted}', a)",
        f"SELECT * FROM histogram('{planted}', a) WHERE true",
    ):
        try:
            guard.check(sql)
        except SqlRefused as exc:
            assert "histogram" in str(exc)
        else:
            raise AssertionError(f"not refused: {sql}")
