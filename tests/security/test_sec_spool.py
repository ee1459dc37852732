"""Spool abuse: a spool directory that vanishes, cannot be written, holds a file named `done`; a
100 MB line; a full disk. One clear line each, the documented exit code, nothing lost or half-made."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sechelp import ECOTOP, ROOT, env

sys.path.insert(0, str(ROOT / "tests"))
from spool_events import EventMaker  # noqa: E402
from spool_events import make_db as make_events_db  # noqa: E402

from ecotop.sample_data.producer import write_file  # noqa: E402


def ingest(
    *args: str, cwd: Path | None = None, timeout: float = 120, **extra: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ECOTOP, "ingest", *args],
        capture_output=True,
        text=True,
        env=env(**extra),
        cwd=cwd or ROOT,
        timeout=timeout,
    )


def one_line(stderr: str) -> str:
    lines = [x for x in stderr.strip().splitlines() if x.startswith("ecotop:")]
    assert "Traceback" not in stderr, stderr
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.fixture
def spooled(tmp_path: Path) -> tuple[Path, Path]:
    db = tmp_path / "e.duckdb"
    make_events_db(db)
    spool = tmp_path / "spool"
    spool.mkdir()
    return db, spool


def test_a_regular_file_named_done_is_one_line(spooled: tuple[Path, Path]) -> None:
    db, spool = spooled
    (spool / "done").write_text("not a directory")
    r = ingest(str(db), "--spool", str(spool), "--once")
    assert r.returncode == 1
    assert "done" in one_line(r.stderr)


@pytest.mark.slow
def test_the_spool_directory_removed_during_watch(spooled: tuple[Path, Path]) -> None:
    db, spool = spooled
    proc = subprocess.Popen(
        [*ECOTOP, "ingest", str(db), "--spool", str(spool), "--watch", "--interval", "0.1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env(),
        cwd=ROOT,
    )
    try:
        time.sleep(3)
        shutil.rmtree(spool)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, err
    assert "spool" in one_line(err) and '"stopped_by"' in out


def test_an_unwritable_spool_directory_is_one_line(tmp_path: Path, other_user) -> None:  # type: ignore[no-untyped-def]
    import tempfile

    d = Path(tempfile.mkdtemp(prefix="ecotop-sec-", dir="/tmp"))
    try:
        os.chmod(d, 0o777)
        db = d / "e.duckdb"
        make_events_db(db)
        os.chown(db, other_user.uid, other_user.gid)
        spool = d / "spool"
        spool.mkdir(mode=0o755)  # root's: the other user may read it, not write it
        os.chmod(spool, 0o755)
        code, _, err = other_user.ecotop("ingest", str(db), "--spool", str(spool), "--once")
        assert code == 1, err
        assert "spool" in one_line(err) and "ermission" in one_line(err)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _ndjson_line(spool: Path) -> Path:
    return write_file(spool, EventMaker(3).batch(50), "ndjson", name="ok.ndjson")


def test_a_line_over_the_cap_is_rejected_with_a_reason(spooled: tuple[Path, Path]) -> None:
    db, spool = spooled
    good = _ndjson_line(spool)
    lines = good.read_bytes().splitlines(keepends=True)
    huge = b'{"kind": "user", "note": "' + b"x" * 3_000_000 + b'"}\n'
    (spool / "big.ndjson").write_bytes(lines[0] + huge + b"".join(lines[1:]))
    good.unlink()
    r = ingest(str(db), "--spool", str(spool), "--once", ECOTOP_SPOOL_MAX_LINE="1MB")
    assert r.returncode in (0, 1), r.stderr
    assert (spool / "rejected" / "big.ndjson").exists()
    reason = (spool / "rejected" / "big.ndjson.reason").read_text()
    assert "line 2" in reason and "ECOTOP_SPOOL_MAX_LINE" in reason


def test_a_file_over_the_cap_is_rejected_with_a_reason(spooled: tuple[Path, Path]) -> None:
    db, spool = spooled
    good = _ndjson_line(spool)
    size = good.stat().st_size
    r = ingest(str(db), "--spool", str(spool), "--once", ECOTOP_SPOOL_MAX_FILE=str(size // 2))
    assert (spool / "rejected" / "ok.ndjson").exists(), r.stderr
    assert "ECOTOP_SPOOL_MAX_FILE" in (spool / "rejected" / "ok.ndjson.reason").read_text()


def test_default_caps_take_a_million_event_file() -> None:
    from ecotop.store import spool as sp

    assert sp.max_line_bytes() >= 1 << 20
    assert sp.max_file_bytes() >= 2 << 30  # 1M events of NDJSON is ~300-600 MB


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a small tmpfs")
    mnt = tmp_path / "disk"
    mnt.mkdir()
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mnt)], capture_output=True
    )
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


@pytest.mark.slow
def test_a_full_disk_during_ingest_leaves_the_file_in_the_spool(
    small_disk: Path, tmp_path: Path
) -> None:
    db = small_disk / "e.duckdb"
    make_events_db(db)
    spool = tmp_path / "spool"
    spool.mkdir()
    filler = small_disk / "filler"
    free = shutil.disk_usage(small_disk).free
    filler.write_bytes(b"\0" * max(0, free - 256 * 1024))
    f = write_file(spool, EventMaker(5).batch(20_000), "parquet", name="big.parquet")
    before = f.read_bytes()
    r = ingest(str(db), "--spool", str(spool), "--once")
    assert r.returncode == 1
    line = one_line(r.stderr)
    assert "big.parquet" in line and "space" in line.lower(), line
    assert f.read_bytes() == before  # still in the spool, untouched
    filler.unlink()
    r = ingest(str(db), "--spool", str(spool), "--once")  # with room again it goes in
    assert r.returncode == 0, r.stderr
    assert (spool / "done" / "big.parquet").exists()


def test_a_full_disk_during_export_leaves_no_partial_file(small_disk: Path, tmp_path: Path) -> None:
    from sechelp import make_db

    db = make_db(tmp_path / "q.duckdb")
    out = small_disk / "out.csv"
    free = shutil.disk_usage(small_disk).free
    (small_disk / "filler").write_bytes(b"\0" * max(0, free - 64 * 1024))
    r = subprocess.run(
        [
            *ECOTOP,
            "query",
            str(db),
            "SELECT range AS n, repeat('x', 100) AS s FROM range(100000)",
            "--format",
            "csv",
            "--limit",
            "0",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        env=env(),
        cwd=ROOT,
        timeout=120,
    )
    assert r.returncode == 1
    line = one_line(r.stderr)
    assert "space" in line.lower(), line
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler"]


def test_spill_is_capped_and_a_full_spill_disk_is_one_line(
    small_disk: Path, tmp_path: Path
) -> None:
    from sechelp import make_db

    db = make_db(tmp_path / "q.duckdb")
    r = subprocess.run(
        [
            *ECOTOP,
            "query",
            str(db),
            "SELECT count(DISTINCT s) FROM (SELECT range::VARCHAR || repeat('y', 50) AS s FROM range(3000000))",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env=env(
            ECOTOP_TEMP_DIR=str(small_disk), ECOTOP_MEMORY_LIMIT="64MB", ECOTOP_MAX_TEMP_SIZE="8MB"
        ),
    )
    assert r.returncode == 1, r.stdout
    line = one_line(r.stderr)
    assert "temp" in line.lower() or "space" in line.lower() or "memory" in line.lower(), line
    assert list(small_disk.iterdir()) == []  # the process's private spill directory went with it
