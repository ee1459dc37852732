"""Exactly once across crashes: `ecotop ingest` killed (-9) at random moments, and at each point
between the transaction and the file's move, loses nothing and duplicates nothing."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest
from spool_events import T0, EventMaker, make_db
from test_spool import RAW_TABLES, assert_rollups_match_rebuild, counts, read_events

from ecotop.sample_data.producer import write_file
from ecotop.store import open_db
from ecotop.store.spool_format import KINDS

ECOTOP = [sys.executable, "-m", "ecotop.tui.cli"]
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("spool_crash") / "t.duckdb"
    make_db(path)
    return path


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _ingest(db: Path, spool: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*ECOTOP, "ingest", str(db), "--spool", str(spool), *args],
        capture_output=True,
        text=True,
        env=_env(**env),
        timeout=300,
    )


def _write(
    spool: Path, n_files: int, per_file: int, fmts: tuple[str, ...] = ("ndjson",)
) -> list[Path]:
    mk = EventMaker(3)
    return [
        write_file(spool, mk.batch(per_file, T0 + timedelta(minutes=i)), fmts[i % len(fmts)])
        for i in range(n_files)
    ]


def _expected(files: list[Path]) -> dict[str, int]:
    """Rows each raw table gains from `files`, counted from the files themselves."""
    out = dict.fromkeys(RAW_TABLES, 0)
    for f in files:
        for kind, n in read_events(f).group_by("kind").len().iter_rows():
            if not KINDS[kind].update:
                out[KINDS[kind].table] += n
    return out


def _assert_exactly_once(db: Path, template: Path, spool: Path, names: list[str]) -> None:
    assert (
        sorted(p.name for p in spool.iterdir() if p.is_file() and not p.name.startswith(".")) == []
    )
    assert not list((spool / "rejected").iterdir())
    done = spool / "done"
    assert sorted(p.name for p in done.iterdir()) == sorted(names)
    con = open_db(template).con
    base = counts(con)
    con.close()
    d = open_db(db, write=True)
    got = counts(d.con)
    exp = _expected([done / n for n in names])
    assert {t: got[t] - base[t] for t in RAW_TABLES} == exp
    # one 'ingested' row per file, whatever the crashes
    log = d.con.execute(
        "SELECT checksum, count(*) FROM ingest_log WHERE outcome = 'ingested' GROUP BY 1"
    ).fetchall()
    assert len(log) == len(names) and all(n == 1 for _, n in log)
    refunds = sum(read_events(done / n).filter(pl.col("kind") == "refund").height for n in names)
    (r,) = d.con.execute("SELECT count(*) FROM transactions WHERE status = 'refunded'").fetchall()
    assert r[0] == refunds
    assert_rollups_match_rebuild(d.con)
    d.close()


@pytest.mark.slow
@pytest.mark.parametrize("point", ["before_commit", "after_commit", "after_move"])
def test_a_crash_at_each_point_loses_and_duplicates_nothing(
    point: str, template: Path, tmp_path: Path
) -> None:
    db = tmp_path / "t.duckdb"
    shutil.copy(template, db)
    spool = tmp_path / "spool"
    spool.mkdir()
    files = _write(spool, 3, 300)
    crashed = _ingest(db, spool, "--once", ECOTOP_SPOOL_CRASH_AT=f"{point}:2")
    assert crashed.returncode == 137, crashed.stderr
    second = files[1].name
    if (
        point == "before_commit" or point == "after_commit"
    ):  # nothing of the second file: still waiting
        assert (spool / second).exists()
    else:
        assert (spool / "done" / second).exists()
    again = _ingest(db, spool, "--once")
    assert again.returncode == 0, again.stderr
    if point == "after_commit":
        assert f"skipped {second}: already ingested" in again.stderr
    _assert_exactly_once(db, template, spool, [f.name for f in files])


@pytest.mark.slow
def test_kill_9_at_random_moments_many_times(template: Path, tmp_path: Path) -> None:
    """20 kill -9s of `ingest --watch` mid-run (checkpoints forced often), then a final --once."""
    db = tmp_path / "t.duckdb"
    shutil.copy(template, db)
    spool = tmp_path / "spool"
    spool.mkdir()
    files = _write(spool, 30, 700, ("ndjson", "parquet", "csv"))
    rng = random.Random(20261125)
    kills = 0
    for _ in range(20):
        if not any(p.is_file() and not p.name.startswith(".") for p in spool.iterdir()):
            break
        proc = subprocess.Popen(
            [
                *ECOTOP,
                "ingest",
                str(db),
                "--spool",
                str(spool),
                "--watch",
                "--wal-limit",
                "0.25",
                "--interval",
                "0.05",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            # small groups of files per transaction: kills land inside grouped commits too
            env={**_env(), "ECOTOP_SPOOL_GROUP_EVENTS": "2000"},
        )
        assert proc.stderr is not None
        # Wait for a random number of files to be done (0-2), then kill within the next one.
        for _ in range(rng.randint(0, 2)):
            if not proc.stderr.readline():
                break
        time.sleep(rng.uniform(0.0, 0.25))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
        assert proc.returncode == -signal.SIGKILL
        kills += 1
    assert kills >= 5
    final = _ingest(db, spool, "--once")
    assert final.returncode == 0, final.stderr
    _assert_exactly_once(db, template, spool, [f.name for f in files])


@pytest.mark.slow
def test_sigterm_and_sigint_stop_watch_cleanly(template: Path, tmp_path: Path) -> None:
    db = tmp_path / "t.duckdb"
    shutil.copy(template, db)
    spool = tmp_path / "spool"
    spool.mkdir()
    files = _write(spool, 6, 500)
    for sig, code in ((signal.SIGTERM, 0), (signal.SIGINT, 130)):
        proc = subprocess.Popen(
            [*ECOTOP, "ingest", str(db), "--spool", str(spool), "--watch"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**_env(), "ECOTOP_SPOOL_GROUP_EVENTS": "0"},  # one file per transaction
        )
        assert proc.stderr is not None
        proc.stderr.readline()  # one file in: the next is in hand when the signal comes
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == code, err
        assert "Traceback" not in err
        assert f'"stopped_by": "{sig.name}"' in out
    final = _ingest(db, spool, "--once")
    assert final.returncode == 0, final.stderr
    _assert_exactly_once(db, template, spool, [f.name for f in files])
