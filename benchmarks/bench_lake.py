"""A DuckLake against the same file: the overview refresh, headline measures, and ingest events/s.

The generated database at ctx.scale (seed 1) is imported into a new lake whose catalog is a
private Postgres (ECOTOP_TEST_PG when set, e.g. by .ci/postgres.sh; else initdb + pg_ctl here,
as the `postgres` user when root) and whose data directory is a temporary one. In the same run:

- import: `lake import` of the file (wall seconds, rows/s, Parquet files written);
- refresh: the dashboard's overview refresh through the app's worker path
  (benchmarks.bench_dashboard.refresh, no alert rules, re-use of results off), on the file and
  on the lake: p50/p95 and the lake/file ratio of the p95 (target <= 2);
- kpis: `queries.kpis(cur, r)` for 1h, 24h, 7d on each (median wall ms, CPU ms beside it);
- ingest: spool files of FILE_EVENTS mixed events (benchmarks.bench_ingest.Maker, ids from the
  lake) loaded by 1 writer, then by 2 writer processes at once, each with its own spool
  (`ecotop ingest URI --spool DIR --once`): events/s over the wall time, CPU seconds per 100k
  events, commit retries; then `lake maintain` (files before/after, seconds) and the refresh p95
  on the lake again after the ingest and after upkeep.
"""

from __future__ import annotations

import glob
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.common import ROOT, row, stats

FILE_EVENTS = 20_000


@contextmanager
def _postgres() -> Iterator[str]:
    """A libpq string of a Postgres to make lakes in: CI's, or a private one for this run."""
    env = os.environ.get("ECOTOP_TEST_PG")
    if env:
        yield env
        return
    found = shutil.which("initdb") or next(
        iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)), None
    )
    if found is None:
        raise RuntimeError("no Postgres here (initdb not found)")
    pg_bin = Path(found).parent
    root = Path(tempfile.mkdtemp(prefix="ecotop-bench-pg-"))
    os.chmod(root, 0o700)
    owner: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
        owner = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = root / "data"
    subprocess.run(
        [*owner, str(pg_bin / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            *owner,
            str(pg_bin / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(root / "log"),
            "-w",
            "-o",
            f"-p {port} -k {root} -c listen_addresses=127.0.0.1",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        yield f"host=127.0.0.1 port={port} user=postgres dbname=postgres"
    finally:
        subprocess.run(
            [*owner, str(pg_bin / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


def _new_catalog(dsn: str, name: str) -> str:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as pg:
        pg.execute(f"DROP DATABASE IF EXISTS {name}")  # type: ignore[arg-type]
        pg.execute(f"CREATE DATABASE {name}")  # type: ignore[arg-type]
    parts = dict(p.split("=", 1) for p in dsn.split())
    parts["dbname"] = name
    return "ducklake:postgres:" + " ".join(f"{k}={v}" for k, v in parts.items())


def _kpis(target: Any) -> dict[str, Any]:
    from ecotop import queries
    from ecotop.store import open_db

    db = open_db(target)
    out: dict[str, Any] = {}
    try:
        cur = db.cursor()
        for r in ("1h", "24h", "7d"):
            queries.kpis(cur, r)  # warm
            wall, cpu = [], []
            for _ in range(5):
                t0, c0 = time.perf_counter(), time.process_time()
                queries.kpis(cur, r)
                wall.append((time.perf_counter() - t0) * 1000)
                cpu.append((time.process_time() - c0) * 1000)
            out[r] = {"wall": stats(wall)["median_ms"], "cpu_ms": stats(cpu)["median_ms"]}
    finally:
        db.close()
    return out


def _parquet_files(data: Path) -> int:
    return sum(1 for _ in data.rglob("*.parquet"))


def _make_spools(uri: str, dirs: list[Path], files_each: int) -> int:
    """Spool files for each writer: disjoint new ids, disjoint rows to update."""
    import pyarrow as pa

    from benchmarks.bench_ingest import Maker
    from ecotop.sample_data.producer import write_file
    from ecotop.store import lake

    db = lake.open_lake(uri)
    try:
        cur = db.cursor()
        (newest,) = cur.execute("SELECT max(ts) FROM transactions").fetchall()[0]
        t0 = max(datetime.now(UTC) - timedelta(minutes=10), newest + timedelta(seconds=1))
        events = 0
        n = len(dirs)
        for k, d in enumerate(dirs):
            mk = Maker(cur, seed=k + 1)
            mk.next_tx += k * 100_000_000
            mk.next_order += k * 100_000_000
            mk.next_user += k * 100_000_000
            mk.refundable = pa.array(mk.refundable.to_pylist()[k::n], pa.int64())
            mk.open_orders = pa.array(mk.open_orders.to_pylist()[k::n], pa.int64())
            for i in range(files_each):
                b = mk.batch(FILE_EVENTS, t0 + timedelta(seconds=2 * i + k))
                events += sum(t.num_rows for t in b.values())
                write_file(d, b, "parquet")
        return events
    finally:
        db.close()


def _writers(uri: str, dirs: list[Path]) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ecotop.tui.cli",
                "ingest",
                uri,
                "--spool",
                str(d),
                "--once",
                "-q",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=d.parent,
        )
        for d in dirs
    ]
    outs = [p.communicate() for p in procs]
    wall = time.perf_counter() - t0
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (c1.ru_utime - c0.ru_utime) + (c1.ru_stime - c0.ru_stime)
    summaries = [json.loads(o) for o, _ in outs]
    events = sum(s["events"] for s in summaries)
    return {
        "writers": len(dirs),
        "files": sum(s["files"] for s in summaries),
        "rejected": sum(s["rejected"] for s in summaries),
        "events": events,
        "wall_s": round(wall, 2),
        "events_per_s": round(events / wall, 1),
        "per_writer_events_per_s": [s["events_per_s"] for s in summaries],
        "cpu_s": round(cpu, 2),
        "cpu_s_per_100k_events": round(cpu / events * 100_000, 2) if events else None,
    }


def _refresh_p95(target: Any, cycles: int) -> dict[str, Any]:
    from benchmarks.bench_dashboard import refresh

    return refresh(target, cycles=cycles, with_alerts=False)["overview"]


def run(ctx: Any) -> dict[str, Any]:
    from ecotop.store import lake

    path = Path(os.environ.get("ECOTOP_BENCH_FILE") or ctx.database())
    cycles = 10 if ctx.quick else 30
    out: dict[str, Any] = {"file": str(path)}
    work = Path(tempfile.mkdtemp(prefix="ecotop-bench-lake-"))
    try:
        with _postgres() as dsn:
            uri = _new_catalog(dsn, f"bench_lake_{os.getpid()}")
            data = work / "data"
            lake.init_lake(uri, data).close()
            t0 = time.perf_counter()
            counts = lake.import_file(path, uri)
            rows = sum(counts.values())
            took = time.perf_counter() - t0
            out["import"] = {
                "rows": rows,
                "wall_s": round(took, 2),
                "rows_per_s": round(rows / took),
                "parquet_files": _parquet_files(data),
            }
            f = _refresh_p95(path, cycles)
            lk = _refresh_p95(uri, cycles)
            out["refresh"] = {
                "file": f,
                "lake": lk,
                "p95_ratio_lake_vs_file": round(lk["p95_ms"] / f["p95_ms"], 2),
                "target_ratio": 2.0,
            }
            out["kpis"] = {"file": _kpis(path), "lake": _kpis(uri)}
            files_each = 2 if ctx.quick else 5
            ingest: dict[str, Any] = {}
            for n in (1, 2):
                dirs = []
                for k in range(n):
                    d = work / f"w{n}-{k}" / "spool"
                    d.mkdir(parents=True)
                    dirs.append(d)
                _make_spools(uri, dirs, files_each)
                ingest[f"{n}_writer{'s' if n > 1 else ''}"] = _writers(uri, dirs)
            out["ingest"] = ingest
            out["after_ingest"] = {
                "parquet_files": _parquet_files(data),
                "refresh_lake": _refresh_p95(uri, cycles),
            }
            t0 = time.perf_counter()
            m = lake.maintain(uri, older_than="0 seconds")
            m["wall_s"] = round(time.perf_counter() - t0, 2)
            out["maintain"] = m
            out["after_maintain"] = {
                "parquet_files": _parquet_files(data),
                "refresh_lake": _refresh_p95(uri, cycles),
            }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out["how"] = (
        "same run, same file: lake = Postgres catalog on 127.0.0.1 + local data directory; "
        f"ingest files of {FILE_EVENTS} events, parquet"
    )
    out["rows"] = _rows(out)
    return out


def _rows(out: dict[str, Any]) -> list[dict[str, Any]]:
    """BENCHMARKS.md lines: the refresh on a lake beside the same file, and ingest into a lake."""
    area = "Lake (DuckLake, Postgres catalog)"
    rows = []
    if "refresh" in out:
        r = out["refresh"]
        rows.append(
            row(
                area,
                "overview refresh p95 on a lake",
                "<= 2x the same file",
                r["lake"]["p95_ms"],
                anchor=r["file"]["p95_ms"],
                anchor_what="the same refresh on the DuckDB file the lake was imported from",
                ok=r["p95_ratio_lake_vs_file"] <= 2.0,
            )
        )
    one = out.get("ingest", {}).get("1_writer")
    for key, w in out.get("ingest", {}).items():
        rows.append(
            row(
                area,
                f"ingest into a lake, {key.replace('_', ' ')} ({w['events']:,} events, "
                f"{w['rejected']} rejected)",
                "—",
                w["events_per_s"],
                unit="events/s",
                anchor=one["events_per_s"] if one and w is not one else None,
                anchor_what="one writer, same run" if one and w is not one else "",
                note=f"{w['cpu_s_per_100k_events']} s CPU per 100k events",
            )
        )
    return rows
