"""`ecotop simulate`: a real producer of spool files, and producer and ingester running at once."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from test_spool import RAW_TABLES, counts, read_events

from ecotop.store import open_db
from ecotop.store.spool_format import FIELD_TYPES, KINDS

pytest.importorskip("ecotop.sample_data.live")

ROOT = Path(__file__).resolve().parent.parent
ECOTOP = [sys.executable, "-m", "ecotop.tui.cli"]
SCALE, SEED = "0.01", "7"  # the small_db fixture's


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _simulate(spool: Path, start, *args: str) -> list[str]:
    return [
        *ECOTOP, "simulate", "--spool", str(spool), "--scale", SCALE, "--seed", SEED,
        "--start", start.isoformat(), "--speed", "240", "--interval", "0.5", *args,
    ]  # fmt: skip


def _files(spool: Path) -> list[Path]:
    return sorted(p for p in spool.iterdir() if p.is_file() and not p.name.startswith("."))


@pytest.mark.slow
def test_simulate_writes_whole_files_and_a_summary(tmp_path: Path, small_db_end) -> None:
    spool = tmp_path / "spool"
    run = subprocess.run(
        _simulate(spool, small_db_end, "--duration", "3", "--format", "csv"),
        capture_output=True, text=True, env=_env(), timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    files = _files(spool)
    assert files and all(p.suffix == ".csv" for p in files)
    assert not list(spool.glob(".*.tmp"))  # every file was renamed into place
    assert summary["files"] == len(files)
    ev = pl.concat([read_events(p).select("kind") for p in files])
    assert summary["events"] == ev.height > 0
    assert summary["by_kind"] == dict(sorted(ev.group_by("kind").len().iter_rows()))
    assert {"transaction", "session", "channel_view"} <= set(summary["by_kind"])


@pytest.mark.slow
def test_producer_and_ingester_at_once(tmp_path: Path, small_db: Path, small_db_end) -> None:
    """Two real processes: every event simulate writes lands once; none is rejected."""
    db = tmp_path / "live.duckdb"
    shutil.copy(small_db, db)
    con = open_db(db).con
    before = counts(con)
    con.close()
    spool = tmp_path / "spool"
    spool.mkdir()
    ingest = subprocess.Popen(
        [*ECOTOP, "ingest", str(db), "--spool", str(spool), "--watch", "--interval", "0.1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
    )  # fmt: skip
    sim = subprocess.run(
        _simulate(spool, small_db_end, "--duration", "6", "--format", "parquet"),
        capture_output=True, text=True, env=_env(), timeout=120,
    )  # fmt: skip
    assert sim.returncode == 0, sim.stderr
    produced = json.loads(sim.stdout)
    deadline = time.monotonic() + 120
    while _files(spool) and time.monotonic() < deadline:
        time.sleep(0.2)
    ingest.send_signal(signal.SIGTERM)
    out, err = ingest.communicate(timeout=120)
    assert ingest.returncode == 0, err
    got = json.loads(out)
    assert got["rejected"] == 0, err
    assert got["ingested"] == produced["files"] and got["events"] == produced["events"]
    assert got["by_kind"] == produced["by_kind"]
    d = open_db(db)
    after = counts(d.con)
    d.close()
    done = sorted((spool / "done").iterdir())
    exp = dict.fromkeys(RAW_TABLES, 0)
    for f in done:
        ev = read_events(f)
        if "if_new" in ev.columns:  # re-announced entities, held already: this file is current
            ev = ev.filter(pl.col("if_new").cast(pl.Utf8).str.to_lowercase().ne_missing("true"))
        for kind, n in ev.group_by("kind").len().iter_rows():
            if not KINDS[kind].update:
                exp[KINDS[kind].table] += n
    assert {t: after[t] - before[t] for t in RAW_TABLES} == exp


def test_simulate_stops_on_sigint_with_its_summary(tmp_path: Path, small_db_end) -> None:
    spool = tmp_path / "spool"
    proc = subprocess.Popen(
        _simulate(spool, small_db_end), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=_env(),
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not (spool.exists() and _files(spool)) and time.monotonic() < deadline:
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in err
    assert json.loads(out)["files"] == len(_files(spool))


def test_simulate_usage_errors() -> None:
    run = subprocess.run(
        [*ECOTOP, "simulate", "--spool", "/tmp/x", "--start", "2026-11-20 12:00"],
        capture_output=True, text=True, env=_env(),
    )  # fmt: skip
    assert run.returncode == 2 and "UTC offset" in run.stderr


@pytest.mark.slow
def test_simulate_rate_and_events(tmp_path: Path, small_db_end) -> None:
    spool = tmp_path / "spool"
    run = subprocess.run(
        [
            *ECOTOP, "simulate", "--spool", str(spool), "--scale", SCALE, "--seed", SEED,
            "--start", small_db_end.isoformat(), "--rate", "300", "--events", "400",
            "--interval", "0.5",
        ],
        capture_output=True, text=True, env=_env(), timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert summary["events"] >= 400 and summary["elapsed_s"] < 30
    assert summary["events"] == sum(read_events(p).height for p in _files(spool))


# -- whatever the rate, speed, interval and age of the file: ingest accepts every file ------------

TS_FIELDS = sorted(n for n, t in FIELD_TYPES.items() if t == "TIMESTAMPTZ")


@pytest.fixture(scope="module")
def hour_old_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scale-0.01 file (seed 7, 2 days) whose history ended an hour ago, as `ecotop generate`
    makes it without --end an hour before the test."""
    from ecotop.sample_data import generate

    path = tmp_path_factory.mktemp("hour_old") / "old.duckdb"
    end = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=1)
    generate(path, scale=float(SCALE), seed=int(SEED), days=2, end=end)
    return path


@pytest.mark.slow
@pytest.mark.parametrize(
    ("rate", "events", "interval", "fmt"),
    [
        (None, None, "1", "ndjson"),
        ("100", "150", "0.5", "csv"),
        ("2000", "3000", "0.5", "ndjson"),
        ("100000", "20000", "0.05", "parquet"),
    ],
)
@pytest.mark.slow
def test_every_file_simulate_writes_is_ingested(
    tmp_path: Path, hour_old_db: Path, rate: str | None, events: str | None, interval: str, fmt: str
) -> None:
    """No --start, a file an hour old: every file is accepted, --events N writes exactly N, each
    file covers one interval, and no time in a file lies after the moment it was written."""
    spool = tmp_path / "spool"
    args = [*ECOTOP, "simulate", "--spool", str(spool), "--scale", SCALE, "--seed", SEED]
    args += ["--interval", interval, "--format", fmt]
    args += ["--rate", rate] if rate else []
    args += ["--events", events, "--duration", "60"] if events else ["--duration", "4"]
    sim = subprocess.run(args, capture_output=True, text=True, env=_env(), timeout=300)
    assert sim.returncode == 0, sim.stderr
    produced = json.loads(sim.stdout)
    files = _files(spool)
    assert [p.parent for p in files] == [spool] * len(files) and produced["files"] == len(files)
    if events:
        assert produced["events"] == int(events)
    frames = {p: read_events(p) for p in files}
    assert produced["events"] == sum(f.height for f in frames.values())
    for p, ev in frames.items():
        written = datetime.fromtimestamp(p.stat().st_mtime, UTC)
        for c in TS_FIELDS:
            if c in ev.columns:
                ts = ev.get_column(c).drop_nulls().cast(pl.Utf8)
                latest = max((datetime.fromisoformat(v) for v in ts), default=None)
                assert latest is None or latest <= written, (p.name, c, latest, written)
        new = ev.filter(pl.col("kind").is_in(["transaction", "session", "channel_view"]))
        if new.height > 1:
            stamps = [datetime.fromisoformat(v) for v in new.get_column("ts").cast(pl.Utf8)]
            assert (max(stamps) - min(stamps)).total_seconds() < float(interval), p.name
    db = tmp_path / "live.duckdb"
    shutil.copy(hour_old_db, db)
    run = subprocess.run(
        [*ECOTOP, "ingest", str(db), "--spool", str(spool), "--once"],
        capture_output=True, text=True, env=_env(), timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    got = json.loads(run.stdout)
    assert got["rejected"] == 0 and got["ingested"] == produced["files"]
    assert got["events"] == produced["events"] and got["by_kind"] == produced["by_kind"]


# -- several producers for one file (issue #14) ---------------------------------------------------


@pytest.mark.slow
def test_two_producers_two_spools_one_file(tmp_path: Path, small_db: Path, small_db_end) -> None:
    """`--producer 1/2` and `2/2` for the same file, each into its own spool: ingesting both
    spools accepts every file, and every id in the raw tables is unique."""
    db = tmp_path / "shared.duckdb"
    shutil.copy(small_db, db)
    spools = [tmp_path / "a", tmp_path / "b"]
    procs = []
    for k, spool in enumerate(spools, 1):
        args = ["--producer", f"{k}/2", "--events", "3000", "--speed", "20000"]
        proc = subprocess.Popen(
            _simulate(spool, small_db_end, *args),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
        )  # fmt: skip
        procs.append(proc)
    produced = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        produced.append(json.loads(out))
    assert [s["events"] for s in produced] == [3000, 3000]
    for spool, made in zip(spools, produced, strict=True):
        run = subprocess.run(
            [*ECOTOP, "ingest", str(db), "--spool", str(spool), "--once"],
            capture_output=True, text=True, env=_env(), timeout=300,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr[-2000:]
        got = json.loads(run.stdout)
        assert got["rejected"] == 0 and got["ingested"] == made["files"]
    d = open_db(db)
    try:
        for table, key in [
            ("transactions", "tx_id"), ("payscore_orders", "order_id"), ("users", "user_id"),
            ("merchants", "merchant_id"), ("oa_articles", "article_id"),
            ("channel_posts", "post_id"), ("live_sessions", "live_id"),
        ]:  # fmt: skip
            n, distinct = d.con.execute(
                f"SELECT count(*), count(DISTINCT {key}) FROM {table}"
            ).fetchone()
            assert n == distinct, table
    finally:
        d.close()
    # the two producers made different events (not the same stream twice)
    ids = [
        set(
            pl.concat([read_events(p) for p in sorted((s / "done").iterdir())], how="diagonal")
            .filter(pl.col("kind") == "transaction")
            .get_column("tx_id")
            .cast(pl.Int64)
            .to_list()
        )
        for s in spools
    ]
    assert ids[0] and ids[1] and not ids[0] & ids[1]


@pytest.mark.parametrize("bad", ["0/2", "3/2", "x", "1/0", "2"])
def test_simulate_bad_producer(bad: str) -> None:
    run = subprocess.run(
        [*ECOTOP, "simulate", "--spool", "/tmp/x", "--producer", bad],
        capture_output=True, text=True, env=_env(),
    )  # fmt: skip
    assert run.returncode == 2 and "Traceback" not in run.stderr
    errors = [line for line in run.stderr.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and "Invalid value for '--producer'" in errors[0]


@pytest.mark.slow
def test_producer_shares_make_the_one_stream(small_db_end) -> None:
    """The rows of producers 1/3, 2/3 and 3/3 together are exactly the one stream's rows, and a
    producer's payments in a live, views of a post or live and reads of an article are with it."""
    import pyarrow as pa

    from ecotop.sample_data.live import STREAM_TABLES, EventStream

    start = small_db_end.astimezone(UTC) - timedelta(hours=2)
    end = small_db_end.astimezone(UTC)
    with EventStream(float(SCALE), int(SEED)) as one:
        whole = one.events(start, end)
    parts = []
    for k in (1, 2, 3):
        with EventStream(float(SCALE), int(SEED), producer=(k, 3)) as stream:
            parts.append(stream.events(start, end))
    for t in STREAM_TABLES:
        union = pa.concat_tables([p[t] for p in parts])
        assert sorted(map(str, union.to_pylist())) == sorted(map(str, whole[t].to_pylist())), t
    assert all(p["transactions"].num_rows for p in parts)
    for i, p in enumerate(parts):
        others = [q for j, q in enumerate(parts) if j != i]
        for table, col, ref_table, ref_col in [
            ("transactions", "live_id", "live_sessions", "live_id"),
            ("channel_views", "live_id", "live_sessions", "live_id"),
            ("channel_views", "post_id", "channel_posts", "post_id"),
            ("oa_reads", "article_id", "oa_articles", "article_id"),
            ("memberships", "tx_id", "transactions", "tx_id"),
        ]:
            refs = {v for v in p[table].column(col).to_pylist() if v is not None}
            theirs = set().union(*(q[ref_table].column(ref_col).to_pylist() for q in others))
            assert not refs & theirs, (table, col)


def test_producer_out_of_range_is_refused() -> None:
    from ecotop.sample_data.live import EventStream

    with pytest.raises(ValueError, match="1 <= K <= N"):
        EventStream(float(SCALE), int(SEED), producer=(3, 2))
