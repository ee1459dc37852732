"""ecotop benchmarks: `python -m benchmarks` prints JSON with medians and p95 (milliseconds)."""
