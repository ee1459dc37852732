"""Helpers shared by the benchmark modules: timing statistics and the benchmark database."""

from __future__ import annotations

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
    """Time `fn` `repeat` times after `warmup` calls; returns stats()."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return stats(out)


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
        DATA_DIR.mkdir(exist_ok=True)
        path = DATA_DIR / f"scale-{s:g}.duckdb"
        if not path.exists():
            from ecotop.sample_data import generate

            generate(path, scale=s, seed=1)
        self.files[s] = path
        return path
