"""Helpers shared by the benchmark modules: timing statistics, the benchmark database and the rows
of BENCHMARKS.md.

A module's `run(ctx)` returns a dict; its key "rows" (a list of `row(...)` dicts) is what the report
(`python -m benchmarks --report`) renders, one table per area: target, result, an anchor measured in
the same run on the same file, their ratio, CPU beside wall. Any module adds rows the same way.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "bench-data"


def stats(samples_ms: list[float]) -> dict[str, float]:
    """Median, p95, min and count of a list of millisecond samples."""
    s = sorted(samples_ms)
    p95 = s[min(len(s) - 1, max(0, round(0.95 * (len(s) - 1))))]
    return {
        "median_ms": round(statistics.median(s), 2),
        "p95_ms": round(p95, 2),
        "min_ms": round(s[0], 2),
        "n": len(s),
    }


def timeit(fn: Callable[[], Any], repeat: int = 20, warmup: int = 2) -> dict[str, float]:
    """Time `fn` `repeat` times after `warmup` calls; returns stats() of wall time plus the process
    CPU time per call (`cpu_median_ms`, `cpu_p95_ms`, all threads): on a shared machine wall time
    measures the queue for a core as much as the work."""
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    out = stats(wall)
    c = stats(cpu)
    out["cpu_median_ms"], out["cpu_p95_ms"] = c["median_ms"], c["p95_ms"]
    return out


def load_avg() -> float:
    """The 1-minute load average (what else the machine was doing)."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return float("nan")


def row(
    area: str,
    measure: str,
    target: str,
    result: float | None,
    *,
    unit: str = "ms",
    anchor: float | None = None,
    anchor_what: str = "",
    cpu: float | None = None,
    ok: bool | None = None,
    note: str = "",
) -> dict[str, Any]:
    """One line of BENCHMARKS.md: `result` (and `anchor`, `cpu`) in `unit`; `ok` whether the target
    is met (None: not judged). The ratio result / anchor is computed when both are known."""
    ratio = None if result is None or not anchor else round(result / anchor, 2)
    return {
        "area": area,
        "measure": measure,
        "target": target,
        "result": result,
        "unit": unit,
        "anchor": anchor,
        "anchor_what": anchor_what,
        "ratio": ratio,
        "cpu": cpu,
        "ok": ok,
        "note": note,
    }


@dataclass
class Context:
    """What every benchmark module receives: the scale and a cache of generated files."""

    scale: float = 1.0
    quick: bool = False
    files: dict[float, Path] = field(default_factory=dict)

    def database(self, scale: float | None = None) -> Path:
        """A generated database at `scale` (default ctx.scale), made once and kept in bench-data/."""
        s = self.scale if scale is None else scale
        if s in self.files:
            return self.files[s]
        if os.environ.get("ECOTOP_BENCH_FILE"):  # time an existing (e.g. generated once) file
            self.files[s] = Path(os.environ["ECOTOP_BENCH_FILE"])
            return self.files[s]
        DATA_DIR.mkdir(exist_ok=True)
        path = DATA_DIR / f"scale-{s:g}.duckdb"
        if not path.exists():
            from ecotop.sample_data import generate

            generate(path, scale=s, seed=1)
        self.files[s] = path
        return path
