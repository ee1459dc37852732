"""`ecotop generate --scale S --out FILE`: write a deterministic sample database.

Scale 1 is a million users, 100,000 merchants and about 350,000 payments a day over `--days` days
ending at `--end` (default: now). The same scale, seed, days and end always give the same data.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from ecotop.tui.commands.common import fail, guarded, is_tty

DEFAULT_ZONE = "Asia/Shanghai"


def _parse_end(text: str | None, zone_name: str) -> datetime | None:
    """ISO 8601 instant; without an offset it is read in the display zone."""
    if text is None:
        return None
    from zoneinfo import ZoneInfo

    raw = text.strip()
    try:
        end = datetime.fromisoformat(raw.replace(" ", "T", 1) if "T" not in raw else raw)
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not an ISO 8601 time (e.g. 2026-11-20T12:00 or 2026-11-20T12:00+08:00)",
            param_hint="'--end'",
        ) from None
    if end.tzinfo is None:
        end = end.replace(tzinfo=ZoneInfo(zone_name))
    return end


def _zone_name(value: str | None) -> str:
    from zoneinfo import ZoneInfo

    name = value or os.environ.get("ECOTOP_DISPLAY_ZONE") or DEFAULT_ZONE
    try:
        ZoneInfo(name)
    except Exception:
        raise click.BadParameter(f"unknown time zone {name!r}", param_hint="'--zone'") from None
    return name


@click.command()
@click.option(
    "--scale",
    type=click.FloatRange(min=0, min_open=True, max=1000),
    required=True,
    help="Size: 1 = 1M users, 100k merchants, ~350k payments a day (0.01 is quick).",
)
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The database file to create.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option(
    "--days",
    type=click.IntRange(1, 3650),
    default=60,
    show_default=True,
    help="Days of history.",
)
@click.option(
    "--end",
    "end_text",
    metavar="TIME",
    default=None,
    help="End of the history, ISO 8601 (no offset = display zone). Default: now.",
)
@click.option(
    "--zone",
    default=None,
    metavar="ZONE",
    help="Display zone the daily curve follows (default ECOTOP_DISPLAY_ZONE or Asia/Shanghai).",
)
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
@guarded
def generate(
    scale: float,
    out: Path,
    seed: int,
    days: int,
    end_text: str | None,
    zone: str | None,
    force: bool,
) -> None:
    """Write a sample database of the whole ecosystem to FILE (deterministic for a given seed)."""
    if not math.isfinite(scale):
        raise click.BadParameter(f"{scale} is not a finite number", param_hint="'--scale'")
    zone_name = _zone_name(zone)
    end = _parse_end(end_text, zone_name)
    if out.exists() and not force:
        fail(f"{out}: already exists (use --force to replace it)", 1)
    if out.exists() and out.is_dir():
        fail(f"{out}: is a directory", 1)
    if not out.parent.exists():
        fail(f"{out.parent}: no such directory", 1)

    from ecotop.sample_data import generate as run

    bars: list[Any] = []  # one bar per phase on a terminal, nothing when piped
    progress: Callable[[str, float], None] | None = None
    if is_tty():
        err = sys.stderr

        def show(stage: str, fraction: float) -> None:
            if bars:
                done = bars.pop()
                done.update(done.length - done.pos)
                done.__exit__(None, None, None)
            if stage == "done":
                return
            bar = click.progressbar(length=100, label=f"{stage:<16}", file=err, width=30)
            bar.__enter__()
            bar.update(0)
            bars.append(bar)

        progress = show

    try:
        summary = run(
            out,
            scale=scale,
            seed=seed,
            days=days,
            end=end,
            display_zone=zone_name,
            progress=progress,
            overwrite=force,
        )
    finally:
        for open_bar in bars:
            open_bar.__exit__(None, None, None)
    total = summary["total_rows"]
    secs = summary["seconds"]
    click.echo(
        f"{out}: {total:,} rows in {secs:.1f} s ({total / max(secs, 1e-9):,.0f} rows/s; "
        f"scale {scale:g}, seed {seed}, {days} days to {summary['end']})",
        err=True,
    )
