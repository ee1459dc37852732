"""Run every benchmarks/bench_*.py module and print one JSON object of their results.

`--report` also writes BENCHMARKS.md: one table per area of the rows the modules return (see
`benchmarks.common.row`), each with its target, result, the anchor measured in the same run and their
ratio, then the modules' "notes" (where the time goes, what would close a miss). `--from FILE` renders the report from a saved JSON result instead of running anything.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import pkgutil
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from benchmarks.common import ROOT, Context, load_avg

REPORT = ROOT / "BENCHMARKS.md"


def _num(v: Any, unit: str) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if unit == "x":
        return f"{v:.2f}x"
    if unit == "%":
        return f"{v:.1f}%"
    if unit == "s":
        return f"{v:.2f} s"
    if unit == "ms":
        return f"{v:.0f} ms" if v >= 10 else f"{v:.1f} ms"
    return f"{v:,.0f} {unit}"


def render(results: dict[str, Any]) -> str:
    """BENCHMARKS.md from a results object (the JSON `python -m benchmarks` prints)."""
    rows = [r for k, v in results.items() if isinstance(v, dict) for r in v.get("rows", [])]
    areas: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        areas.setdefault(r["area"], []).append(r)
    lines = [
        "# Benchmarks",
        "",
        "Written by `python -m benchmarks --report` (do not edit by hand). "
        f"Scale {results.get('scale')}, run {results.get('started')}, "
        f"load average {results.get('load_start')} at the start and {results.get('load_end')} "
        "at the end on this 2-core machine (shared: read ratios to the anchor, measured in the same "
        "run on the same file, before absolute times). Times are p95 of wall time unless the "
        "measure says otherwise; CPU is the process CPU time (all threads) of the median call.",
        "",
    ]
    for area, rs in areas.items():
        lines += [
            f"## {area}",
            "",
            "| measure | target | result | CPU | anchor (same run) | ratio | met |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in rs:
            anchor = _num(r.get("anchor"), r["unit"])
            if r.get("anchor_what"):
                anchor = f"{anchor} ({r['anchor_what']})"
            met = {True: "yes", False: "**no**", None: "—"}[r.get("ok")]
            measure = r["measure"] + (f" — {r['note']}" if r.get("note") else "")
            ratio = "—" if r.get("ratio") is None else f"{r['ratio']:.2f}"
            lines.append(
                f"| {measure} | {r['target']} | {_num(r.get('result'), r['unit'])} | "
                f"{_num(r.get('cpu'), 'ms')} | {anchor} | {ratio} | {met} |"
            )
        lines.append("")
    notes = [n for v in results.values() if isinstance(v, dict) for n in v.get("notes", [])]
    if notes:
        lines += ["## Where the time goes, and what would close each miss", ""]
        lines += [f"- {n}" for n in notes]
        lines.append("")
    errors = {k: v["error"] for k, v in results.items() if isinstance(v, dict) and "error" in v}
    if errors:
        lines += ["## Benchmarks that failed in this run", ""]
        lines += [f"- `{k}`: {e}" for k, e in errors.items()]
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--scale", type=float, default=1.0, help="scale factor of the database")
    parser.add_argument("--only", action="append", default=[], help="run only these modules")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--report", action="store_true", help="also write BENCHMARKS.md")
    parser.add_argument("--from", dest="source", type=Path, help="render a saved JSON result")
    parser.add_argument("--out", type=Path, default=REPORT, help="where --report writes")
    args = parser.parse_args(argv)
    if args.source:
        args.out.write_text(render(json.loads(args.source.read_text())), encoding="utf-8")
        print(f"wrote {args.out}", file=sys.stderr)
        return 0
    ctx = Context(scale=args.scale, quick=args.quick)
    import benchmarks

    names = sorted(
        m.name for m in pkgutil.iter_modules(benchmarks.__path__) if m.name.startswith("bench_")
    )
    if args.only:
        names = [n for n in names if n in args.only or n.removeprefix("bench_") in args.only]
    out: dict[str, object] = {
        "scale": args.scale,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "load_start": load_avg(),
    }
    for name in names:
        print(f"running {name} ...", file=sys.stderr)
        try:
            mod = importlib.import_module(f"benchmarks.{name}")
            out[name.removeprefix("bench_")] = mod.run(ctx)
        except Exception as exc:  # a failed benchmark is reported, the others still run
            traceback.print_exc()
            out[name.removeprefix("bench_")] = {"error": f"{type(exc).__name__}: {exc}"}
    out["load_end"] = load_avg()
    json.dump(out, sys.stdout, indent=2, default=str)
    print()
    if args.report:
        args.out.write_text(render(out), encoding="utf-8")
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
