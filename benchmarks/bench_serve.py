"""One writer, many readers: refresh p95 of 8 dashboards through the socket while the writer ingests,
`ecotop kpis` through the socket as a whole process, and ad-hoc result streaming in rows/s."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import ROOT, Context, stats

WRITER = r"""
import sys, time, signal, threading, json
from ecotop.store import open_db
from ecotop.store.ingest import append, next_ids
from ecotop.store.server import Serving
from ecotop.sample_data.live import EventStream
from ecotop.tui.live import LiveFeed
from ecotop import queries
path, rate = sys.argv[1], float(sys.argv[2])
db = open_db(path, write=True)
meta = db.meta()
stream = EventStream(float(meta.get("scale", 1)), int(meta.get("seed", 0)), rate=rate,
                     start_ids=next_ids(db))
serving = Serving(db, named=lambda n: queries.get(n).sql)
feed = LiveFeed(db, stream, interval_s=1.0)
feed.start()
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *a: stop.set())
print("ready", flush=True)
while not stop.wait(0.5):
    pass
feed.stop()
print(json.dumps({"ingested": feed.total, "error": repr(feed.error)}), flush=True)
serving.stop()
db.close()
"""

CLIENT = r"""
import sys, time, json
from ecotop.store import open_db
from ecotop import queries
path, seconds = sys.argv[1], float(sys.argv[2])
db = open_db(path)
assert getattr(db, "remote", False), "not served"
cur = db.cursor()
out = []
end = time.monotonic() + seconds
while time.monotonic() < end:
    t0 = time.perf_counter()
    k = queries.kpis(cur, "1h", live=True)
    queries.trends(cur, k.window, 30)
    ms = (time.perf_counter() - t0) * 1000
    out.append(ms)
    time.sleep(max(0.0, 1.0 - ms / 1000))
print(json.dumps(out))
"""

STREAM = r"""
import sys, time, json
from ecotop.store import open_db
t0 = time.perf_counter()
db = open_db(sys.argv[1])  # finds the writer and proves it live with a ping (#15.13)
open_ms = (time.perf_counter() - t0) * 1000
cur = db.cursor()
small = []
for _ in range(50):  # kind "sql" now runs under the per-client/total/time limits (#15.4)
    t1 = time.perf_counter()
    cur.execute("SELECT 1").fetchall()
    small.append((time.perf_counter() - t1) * 1000)
t0 = time.perf_counter()
table, truncated = cur.adhoc("SELECT * FROM transactions LIMIT 1000000", None)
s = time.perf_counter() - t0
print(json.dumps({"rows": table.num_rows, "seconds": s, "open_ms": open_ms, "sql_ms": small}))
"""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT)
    return env


def run(ctx: Context) -> dict[str, Any]:
    from ecotop.store.remote import read_info

    src = ctx.database()
    seconds = 10.0 if ctx.quick else 30.0
    rate = 100_000.0
    with tempfile.TemporaryDirectory(prefix="ecotop-bench-serve-") as tmp:
        path = Path(tmp) / "served.duckdb"
        shutil.copy(src, path)
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), str(rate)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
            cwd=ROOT,
        )
        try:
            assert writer.stdout is not None
            line = writer.stdout.readline()
            if line.strip() != "ready" or read_info(path) is None:
                raise RuntimeError(
                    f"writer did not start: {line} {writer.stderr.read() if writer.stderr else ''}"
                )
            clients = [
                subprocess.Popen(
                    [sys.executable, "-c", CLIENT, str(path), str(seconds)],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    env=_env(),
                    cwd=ROOT,
                )
                for _ in range(8)
            ]
            samples: list[float] = []
            per_client = []
            for c in clients:
                out, err = c.communicate(timeout=seconds + 120)
                if c.returncode != 0:
                    raise RuntimeError(f"client failed: {err.strip().splitlines()[-1:]}")
                ms = json.loads(out)
                # the first refresh of each client pays for its imports and connection
                samples.extend(ms[1:])
                per_client.append(stats(ms[1:]) if len(ms) > 1 else {})
            kpis_ms = []
            for _ in range(5):
                t0 = time.perf_counter()
                r = subprocess.run(
                    [sys.executable, "-m", "ecotop.tui.cli", "kpis", str(path), "--json"],
                    capture_output=True,
                    text=True,
                    env=_env(),
                    cwd=ROOT,
                )
                kpis_ms.append((time.perf_counter() - t0) * 1000)
                if r.returncode != 0:
                    raise RuntimeError(r.stderr)
            streams = []
            for _ in range(3):
                r = subprocess.run(
                    [sys.executable, "-c", STREAM, str(path)],
                    capture_output=True,
                    text=True,
                    env=_env(),
                    cwd=ROOT,
                )
                if r.returncode != 0:
                    raise RuntimeError(r.stderr)
                streams.append(json.loads(r.stdout))
        finally:
            writer.send_signal(signal.SIGTERM)
            try:
                out, _ = writer.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                writer.kill()
                out = ""
        tail = [ln for ln in (out or "").splitlines() if ln.startswith("{")]
        ingested = json.loads(tail[-1])["ingested"] if tail else None
    best = min(streams, key=lambda s: s["seconds"])
    sql_ms = [ms for s in streams for ms in s["sql_ms"][1:]]
    return {
        "writer_rate_target_events_per_s": rate,
        "writer_ingested_events": ingested,
        "seconds": seconds,
        "dashboards": 8,
        "dashboard_refresh_through_socket": stats(samples),
        "dashboard_refresh_per_client_p95_ms": [c.get("p95_ms") for c in per_client],
        "kpis_process_through_socket": stats(kpis_ms),
        "open_through_socket": stats([s["open_ms"] for s in streams]),
        "sql_select_1_through_socket": stats(sql_ms),
        "adhoc_stream_1m_rows": {
            "rows": best["rows"],
            "seconds": round(best["seconds"], 3),
            "rows_per_s": round(best["rows"] / best["seconds"]),
        },
    }
