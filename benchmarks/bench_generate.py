"""Generation speed and memory: `sample_data.generate` at ctx.scale in a fresh subprocess.

Reports wall seconds, rows and rows/s, CPU seconds of the process (user + system: on a busy machine
wall time says more about the neighbours than about the generator), peak RSS from ru_maxrss, the
file size, and the load average when it started. The anchor, in the same run and the same way: a
bare `CREATE TABLE AS SELECT` of the same number of rows from `range()` (6 columns: a BIGINT id, a
TIMESTAMPTZ, two hashed BIGINTs, a DECIMAL(18,2) and a VARCHAR) + CHECKPOINT into a new file, under
the same memory limit; `ratio_wall` / `ratio_cpu` are generate's over the anchor's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

from benchmarks.common import DATA_DIR, ROOT, Context, row

_CHILD = r"""
import json, resource, sys, time
from datetime import datetime
from ecotop.sample_data import generate
path, scale = sys.argv[1], float(sys.argv[2])
t0 = time.perf_counter()
s = generate(path, scale=scale, seed=1, end=datetime.fromisoformat("2026-11-20T12:00:00+08:00"),
             overwrite=True)
wall = time.perf_counter() - t0
ru = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"seconds": wall, "rows": s["total_rows"], "per_table": s["rows"],
                  "cpu_s": ru.ru_utime + ru.ru_stime, "peak_rss_mb": ru.ru_maxrss / 1024}))
"""


_ANCHOR = r"""
import json, os, resource, sys, time
import duckdb
path, n = sys.argv[1], int(sys.argv[2])
con = duckdb.connect(path, config={"memory_limit": os.environ.get("ECOTOP_MEMORY_LIMIT") or "2500MB",
                                   "threads": int(os.environ.get("ECOTOP_THREADS", "2"))})
con.execute("SET enable_progress_bar = false")
t0 = time.perf_counter()
con.execute('CREATE TABLE t AS SELECT i AS id, '
    'make_timestamptz(1700000000000000 + i * 1000) AS ts, hash(i, 1) % 1000000 AS user_id, '
    'hash(i, 2) % 20000 AS merchant_id, (hash(i, 3) % 100000 / 100)::DECIMAL(18, 2) AS amount, '
    "['qr', 'face', 'mini_program', 'in_app'][(hash(i, 4) % 4)::BIGINT + 1] AS entry "
    f'FROM range({n}) r(i)')
con.execute("CHECKPOINT")
wall = time.perf_counter() - t0
con.close()
ru = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"seconds": wall, "cpu_s": ru.ru_utime + ru.ru_stime,
                  "peak_rss_mb": ru.ru_maxrss / 1024}))
"""


def _anchor(rows: int) -> dict[str, Any]:
    path = DATA_DIR / "bench-generate-anchor.duckdb"
    for f in (path, path.with_name(path.name + ".wal")):
        f.unlink(missing_ok=True)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _ANCHOR, str(path), str(rows)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    outer = time.perf_counter() - t0
    for f in (path, path.with_name(path.name + ".wal")):
        f.unlink(missing_ok=True)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed")
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    return {
        "rows": rows,
        "seconds": round(res["seconds"], 2),
        "process_seconds": round(outer, 2),
        "cpu_s": round(res["cpu_s"], 2),
        "peak_rss_mb": round(res["peak_rss_mb"], 1),
    }


def run(ctx: Context) -> dict[str, Any]:
    DATA_DIR.mkdir(exist_ok=True)
    path = DATA_DIR / f"bench-generate-{ctx.scale:g}.duckdb"
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path), str(ctx.scale)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    outer = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed")
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    size = path.stat().st_size if path.exists() else 0
    for f in (path, path.with_name(path.name + ".wal")):
        f.unlink(missing_ok=True)
    anchor = _anchor(res["rows"])
    return {
        "scale": ctx.scale,
        "anchor_bare_ctas": anchor,
        "ratio_wall": round(outer / max(anchor["process_seconds"], 1e-9), 2),
        "ratio_cpu": round(res["cpu_s"] / max(anchor["cpu_s"], 1e-9), 2),
        "seconds": round(res["seconds"], 2),
        "process_seconds": round(outer, 2),
        "row_count": res["rows"],
        "rows_per_s": round(res["rows"] / res["seconds"]),
        "cpu_s": round(res["cpu_s"], 2),
        "peak_rss_mb": round(res["peak_rss_mb"], 1),
        "file_mb": round(size / 2**20, 1),
        "load_avg_at_start": round(load, 2),
        "rows_per_table": res["per_table"],
        "rows": [
            row(
                "Writes: generation",
                f"`ecotop generate --scale {ctx.scale:g}`, whole process ({res['rows']:,} rows)",
                "<= 4x the anchor",
                round(outer, 2),
                unit="s",
                anchor=anchor["process_seconds"],
                anchor_what="bare CTAS of the same row count (6 columns incl. DECIMAL) + CHECKPOINT",
                cpu=res["cpu_s"] * 1000,
                ok=outer <= 4 * anchor["process_seconds"],
                note=f"peak RSS {res['peak_rss_mb']:.0f} MB",
            )
        ],
    }
