"""Query benchmarks: every named query, `kpis()`, `trends()` and `pillar_view()` per range, and the
`ecotop kpis` process as a whole, on the benchmark database (medians and p95 in ms).

The file is `ctx.database()` (the sample generator at ctx.scale); when the generator cannot run, a
synthetic file of the same scale from benchmarks/synthetic.py. Set ECOTOP_BENCH_FILE to time an
existing file instead.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.common import DATA_DIR, ROOT, Context, row, timeit

OWN = {
    "messaging",
    "official_accounts",
    "mini_programs",
    "pay",
    "pay_score",
    "wecom",
    "channels",
    "users",
    "overview",
}


def database(ctx: Context) -> Path:
    """The file to time: ECOTOP_BENCH_FILE, else the generated one, else a synthetic one."""
    if os.environ.get("ECOTOP_BENCH_FILE"):
        return Path(os.environ["ECOTOP_BENCH_FILE"])
    try:
        return ctx.database()
    except Exception as exc:  # the generator is missing or failed: use the SQL synthetic file
        print(
            f"bench_queries: generator unavailable ({exc}); using a synthetic file", file=sys.stderr
        )
    from benchmarks.synthetic import synthetic_db

    path = DATA_DIR / f"synthetic-{ctx.scale:g}.duckdb"
    if not path.exists():
        DATA_DIR.mkdir(exist_ok=True)
        synthetic_db(path, ctx.scale)
    return path


def _median_process(argv: list[str], repeat: int) -> tuple[float, float]:
    """Median wall and child-CPU ms of running `argv` `repeat` times (after one warm-up run)."""
    wall, cpu = [], []
    for i in range(repeat + 1):
        c0 = os.times()
        t0 = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
        t1 = time.perf_counter()
        c1 = os.times()
        if i:  # the first run warms the OS page cache
            wall.append((t1 - t0) * 1000)
            cpu.append(
                (c1.children_user + c1.children_system - c0.children_user - c0.children_system)
                * 1000
            )
    return statistics.median(wall), statistics.median(cpu)


def _process(path: Path, range_key: str, repeat: int) -> dict[str, float]:
    """`ecotop kpis FILE --range R --json` as a whole process, and the bare DuckDB anchor."""
    kp = [sys.executable, "-m", "ecotop.tui.cli", "kpis", str(path), "--range", range_key, "--json"]
    bare = [
        sys.executable,
        "-c",
        f"import duckdb; duckdb.connect({str(path)!r}, read_only=True).sql('select 1').fetchall()",
    ]
    w, c = _median_process(kp, repeat)
    bw, bc = _median_process(bare, repeat)
    return {
        "median_ms": round(w, 1),
        "cpu_ms": round(c, 1),
        "bare_ms": round(bw, 1),
        "bare_cpu_ms": round(bc, 1),
    }


# The anchor: the same window's headline numbers computed from raw rows by plain DuckDB SQL, as one
# would without ecotop (paid payments, GMV, success rate and distinct payers; distinct active users).
RAW_ANCHOR = """
SELECT (SELECT count(*) FILTER (WHERE status <> 'failed') FROM transactions WHERE ts >= $s AND ts < $e),
       (SELECT sum(amount) FILTER (WHERE status <> 'failed') FROM transactions WHERE ts >= $s AND ts < $e),
       (SELECT count(*) FROM transactions WHERE ts >= $s AND ts < $e),
       (SELECT count(DISTINCT user_id) FILTER (WHERE status <> 'failed') FROM transactions
         WHERE ts >= $s AND ts < $e),
       (SELECT count(DISTINCT user_id) FROM app_sessions WHERE ts >= $s AND ts < $e)
"""


def _imports() -> dict[str, Any]:
    """What each headless command imports: heavy modules present, and `-X importtime` totals."""
    out: dict[str, Any] = {}
    for cmd in ("kpis", "check", "query", "merchant"):
        code = (
            f"import sys, ecotop.tui.cli, ecotop.tui.commands.{cmd} as m; print(' '.join("
            "k for k in ('textual', 'polars', 'pyarrow', 'plotext', 'rich') if k in sys.modules))"
        )
        p = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", code],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=True,
        )
        total = 0
        for line in p.stderr.splitlines():  # import time: self [us] | cumulative | imported package
            parts = line.split("|")
            if len(parts) == 3 and not parts[2].startswith("  ") and parts[1].strip().isdigit():
                total += int(parts[1])
        out[cmd] = {"heavy_modules": p.stdout.split(), "import_ms": round(total / 1000, 1)}
    return out


def _approx_error(cur: Any, ks: Any) -> dict[str, float]:
    """Relative error of the sampled distinct-user measures against an exact count (one run)."""
    from ecotop import queries
    from ecotop.queries.measures import MEASURES

    exact = {r.pop("win"): r for r in queries.get("users/active").rows(cur, **ks.window.params())}
    out = {}
    for m in MEASURES:
        if m.flag and exact.get("c", {}).get(m.flag):
            want = exact["c"][m.flag]
            out[m.id] = round(abs(ks.get(m.id).value - want) / want * 100, 3)
    return out


def run(ctx: Context) -> dict[str, Any]:
    from ecotop import queries, store
    from ecotop.queries.views import PILLAR_VIEWS, pillar_view, trends

    path = database(ctx)
    repeat = 7 if ctx.quick else 20
    db = store.open_db(path)
    cur = db.cursor()
    meta = db.meta()
    out: dict[str, Any] = {
        "file": str(path),
        "scale": meta.get("scale"),
        "rows_in_file": {
            t: cur.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]
            for t in ("app_sessions", "transactions", "rollup_user_hour", "rollup_minute")
        },
        "ranges": {},
    }
    rows: list[dict[str, Any]] = []
    for range_key in queries.RANGES:
        ks = queries.kpis(cur, range_key)
        w = ks.window
        anchor = timeit(
            lambda w=w: cur.execute(RAW_ANCHOR, {"s": w.start, "e": w.end}).fetchall(),
            repeat=max(3, repeat // 2),
            warmup=1,
        )
        r: dict[str, Any] = {
            "raw_anchor": anchor,
            "kpis": timeit(lambda rk=range_key: queries.kpis(cur, rk), repeat=repeat, warmup=1),
            "kpis_week_baseline": timeit(
                lambda rk=range_key: queries.kpis(cur, rk, baseline="week"), repeat=repeat, warmup=1
            ),
            "trends": timeit(lambda w=w: trends(cur, w), repeat=repeat, warmup=1),
        }
        views = {
            p: timeit(lambda p=p, w=w: pillar_view(cur, p, w), repeat=max(3, repeat // 2), warmup=1)
            for p in PILLAR_VIEWS
        }
        r["pillar_views"] = views
        r["process_kpis_json"] = _process(path, range_key, 3 if ctx.quick else 5)
        if not w.exact_users:
            r["approx_error_pct"] = _approx_error(cur, ks)
        out["ranges"][range_key] = r
        a = anchor["p95_ms"]
        rows.append(
            row(
                "Queries (kpis, pillar views)",
                f"`kpis()` {range_key}",
                "<= 30 ms",
                r["kpis"]["p95_ms"],
                anchor=a,
                anchor_what="raw SQL, same window",
                cpu=r["kpis"]["cpu_median_ms"],
                ok=r["kpis"]["p95_ms"] <= 30,
            )
        )
        rows.append(
            row(
                "Queries (kpis, pillar views)",
                f"`kpis(baseline='week')` {range_key}",
                "<= 30 ms",
                r["kpis_week_baseline"]["p95_ms"],
                anchor=a,
                anchor_what="raw SQL, same window",
                cpu=r["kpis_week_baseline"]["cpu_median_ms"],
                ok=r["kpis_week_baseline"]["p95_ms"] <= 30,
            )
        )
        worst_p, worst = max(views.items(), key=lambda kv: kv[1]["p95_ms"])
        rows.append(
            row(
                "Queries (kpis, pillar views)",
                f"pillar view {range_key}, slowest ({worst_p})",
                "<= 100 ms",
                worst["p95_ms"],
                anchor=a,
                anchor_what="raw SQL, same window",
                cpu=worst["cpu_median_ms"],
                ok=worst["p95_ms"] <= 100,
            )
        )
        pr = r["process_kpis_json"]
        ratio = pr["median_ms"] / pr["bare_ms"]
        rows.append(
            row(
                "Headless commands",
                f"`ecotop kpis FILE --range {range_key} --json` (median of "
                f"{3 if ctx.quick else 5})",
                "<= 1.5x bare duckdb",
                pr["median_ms"],
                anchor=pr["bare_ms"],
                anchor_what="bare `python -c` duckdb connect",
                cpu=pr["cpu_ms"],
                ok=ratio <= 1.5,
            )
        )
        if not w.exact_users and r.get("approx_error_pct"):
            err = max(r["approx_error_pct"].values())
            rows.append(
                row(
                    "Queries (kpis, pillar views)",
                    f"≈ distinct users {range_key}, worst error vs exact",
                    "<= 2%",
                    err,
                    unit="%",
                    ok=err <= 2,
                )
            )
    db.close()
    out["imports"] = _imports()
    for cmd, v in out["imports"].items():
        heavy = [m for m in v["heavy_modules"] if m in ("textual", "polars", "plotext")]
        rows.append(
            row(
                "Headless commands",
                f"`import` of `{cmd}` (python -X importtime)",
                "no Textual, Polars, plotext",
                v["import_ms"],
                ok=not heavy,
                note="imports " + (", ".join(v["heavy_modules"]) or "none of them"),
            )
        )
    out["rows"] = rows
    out["notes"] = NOTES
    return out


NOTES = [
    "`kpis()` reads only bounded state (rollups, per-hour/day user sets, the user sample); "
    "its CPU per call is the column to read on this shared machine (wall time at a load of ~10 "
    "on 2 cores is mostly waiting for a core). Measured at scale 0.1 (scale 1 could not be "
    "generated here in the time: the generator ran at ~25% of a core under that load).",
    "Up to 1h, a third of kpis' CPU was planning, not running: the general sums query expands "
    "six windows x five tier scans; windows up to 1h now read rollup_minute in one short query. "
    "Closing the rest: prepared plans per cursor, or the tiers' boundaries computed in Python so "
    "empty parts are not planned at all.",
    "24h: exact distinct users are a GROUP BY over the window's user-day rows (about one per "
    "active user and flag combination): they grow with active users, not with history or the "
    "window. What would make them a plain filtered count: per-(user, flag) visit rows carrying the "
    "previous visit's minute (distinct users in [s, e) = visits in [s, e) whose previous visit is "
    "before s), kept by ingestion with a per-user last-seen table.",
    "Pillar views at 7d/30d: the top-N tables group a few rows per entity (entity_window: weeks, "
    "days, hours, raw edge hours; the week tier cut 30d tops 2.3-2.5x). What remains grows with the "
    "number of active entities (tens of thousands of accounts and channels): top-N lists kept per "
    "day as rollups (the N largest plus a bound on the rest) would make it constant.",
    "The kpis process: interpreter + duckdb import + ecotop import (no Textual, Polars or "
    "pyarrow; see the import rows) + the queries; the anchor is the bare interpreter + duckdb "
    "connect, so the ratio is the queries and ecotop's own imports.",
]
