"""Query benchmarks: every named query, `kpis()`, `trends()` and `pillar_view()` per range, and the
`ecotop kpis` process as a whole, on the benchmark database (medians and p95 in ms).

The file is `ctx.database()` (the sample generator at ctx.scale); when the generator cannot run, a
synthetic file of the same scale from benchmarks/synthetic.py. Set ECOTOP_BENCH_FILE to time an
existing file instead.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.common import DATA_DIR, ROOT, Context, stats, timeit

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


def _process(path: Path, range_key: str, repeat: int) -> dict[str, float]:
    env = dict(os.environ)
    samples = []
    for i in range(repeat + 1):
        t0 = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "ecotop.tui.cli",
                "kpis",
                str(path),
                "--range",
                range_key,
                "--json",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            cwd=ROOT,
            env=env,
        )
        if i:  # the first run warms the OS page cache
            samples.append((time.perf_counter() - t0) * 1000)
    return stats(samples)


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
    repeat = 5 if ctx.quick else 20
    db = store.open_db(path)
    cur = db.cursor()
    meta = db.meta()
    out: dict[str, Any] = {
        "file": str(path),
        "scale": meta.get("scale"),
        "generated": meta.get("generated") == "true",
        "rows": {
            t: cur.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]
            for t in ("app_sessions", "transactions", "channel_views", "rollup_minute")
        },
        "ranges": {},
    }
    mod = int(meta.get("sample_mod", "1"))
    for range_key in queries.RANGES:
        ks = queries.kpis(cur, range_key)
        w = ks.window
        params = {**w.params(), "n": 10, "mod": mod, "tz": "Asia/Shanghai"}
        per: dict[str, Any] = {}
        for name, q in sorted(queries.registry().items()):
            if q.pillar not in OWN:
                continue
            if name == "users/active" and not w.exact_users:
                continue  # kpis uses the sample beyond 24h
            if name.startswith("users/active_approx") and w.exact_users:
                continue
            p = (
                {**params, "n": 30}
                if name.endswith("series") or name.startswith("overview/")
                else params
            )
            heavy = "top" in name.rsplit("/", 1)[1]
            per[name] = timeit(
                lambda q=q, p=p: q.run(cur, **p), repeat=3 if heavy else repeat, warmup=1
            )
        r: dict[str, Any] = {
            "queries": per,
            "kpis": timeit(lambda rk=range_key: queries.kpis(cur, rk), repeat=repeat, warmup=1),
            "trends": timeit(lambda w=w: trends(cur, w), repeat=repeat, warmup=1),
            "pillar_views_without_tops": timeit(
                lambda w=w: [pillar_view(cur, p, w, tops=False) for p in PILLAR_VIEWS],
                repeat=max(3, repeat // 4),
                warmup=1,
            ),
            "process_kpis_json": _process(path, range_key, 3 if ctx.quick else 5),
        }
        if not w.exact_users:
            r["approx_error_pct"] = _approx_error(cur, ks)
        out["ranges"][range_key] = r
    db.close()
    return out
