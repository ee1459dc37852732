"""Run every benchmarks/bench_*.py module and print one JSON object of their results."""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
import time
import traceback

from benchmarks.common import Context


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--scale", type=float, default=1.0, help="scale factor of the database")
    parser.add_argument("--only", action="append", default=[], help="run only these modules")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args(argv)
    ctx = Context(scale=args.scale, quick=args.quick)
    import benchmarks

    names = sorted(
        m.name for m in pkgutil.iter_modules(benchmarks.__path__) if m.name.startswith("bench_")
    )
    if args.only:
        names = [n for n in names if n in args.only or n.removeprefix("bench_") in args.only]
    out: dict[str, object] = {"scale": args.scale, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    for name in names:
        print(f"running {name} ...", file=sys.stderr)
        try:
            mod = importlib.import_module(f"benchmarks.{name}")
            out[name.removeprefix("bench_")] = mod.run(ctx)
        except Exception as exc:  # a failed benchmark is reported, the others still run
            traceback.print_exc()
            out[name.removeprefix("bench_")] = {"error": f"{type(exc).__name__}: {exc}"}
    json.dump(out, sys.stdout, indent=2, default=str)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
