"""Alert rules: `evaluate` in-process per window set, and `ecotop check FILE` as a whole process.

`check` must stay fast as a monitoring plugin (target < 0.5 s at scale 1); the in-process numbers
say how much of a process is queries and how much is start-up.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from typing import Any

from benchmarks.common import ROOT, Context, stats, timeit


def run(ctx: Context) -> dict[str, Any]:
    from ecotop.queries.alerts import Rule, default_rules, evaluate
    from ecotop.store import open_db

    path = ctx.database()
    repeat = 3 if ctx.quick else 10
    out: dict[str, Any] = {"file": str(path)}
    db = open_db(path)
    try:
        cur = db.cursor()
        rules = default_rules()
        out["evaluate_default_rules"] = timeit(lambda: evaluate(cur, rules), repeat=repeat)
        by_window: dict[str, list[Rule]] = {}
        for r in rules:
            by_window.setdefault(r.window, []).append(r)
        for window, rs in sorted(by_window.items()):
            out[f"evaluate_{window}_rules"] = timeit(lambda rs=rs: evaluate(cur, rs), repeat=repeat)
        cur.close()
    finally:
        db.close()

    # The whole plugin as cron or Nagios runs it: a fresh process each time, no user config.
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECOTOP_")}
    with tempfile.TemporaryDirectory() as home:
        env["XDG_CONFIG_HOME"] = home
        samples, codes = [], set()
        for _ in range(repeat):
            t0 = time.perf_counter()
            p = subprocess.run(
                [sys.executable, "-m", "ecotop.tui.cli", "check", str(path)],
                capture_output=True,
                env=env,
                cwd=ROOT,
            )
            samples.append((time.perf_counter() - t0) * 1000)
            codes.add(p.returncode)
    out["check_process"] = {**stats(samples), "exit_codes": sorted(codes)}
    return out
