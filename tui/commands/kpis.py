"""`ecotop kpis FILE`: every pillar's headline measures for one time range, headless.

Default range 1h; default output an aligned table (pillar, measure, value, previous, change: percent
for counts and money, percentage points for rates, "—" without a previous value, "≈" before an
approximate value), written exactly as the dashboard writes them (tui/widgets/format.py). `--json` prints exactly
`{"range", "baseline", "as_of", "pillars": {PILLAR: {MEASURE: {"value", "previous"}}}}` (rates as
fractions, money as numbers in CNY, previous null when the baseline window has no data, as_of in ISO
8601 with the display zone's offset); `--csv` one row per measure with a header and a `baseline`
column.

`--baseline` says what "previous" is: `previous` (the equal window just before; the default, so
scripts keep their meaning), `day` or `week` (the same window a day or a week earlier, which the
daily curve does not move).

The display zone is ECOTOP_DISPLAY_ZONE, else the file's `display_zone`, else Asia/Shanghai.
Imports nothing heavy (no Textual, no Polars), so a cron job pays only for DuckDB and the queries.
"""

from __future__ import annotations

import csv
import json
import os
import sys
from datetime import tzinfo
from pathlib import Path
from typing import Any

import click

from ecotop.tui.commands.common import guarded
from ecotop.tui.widgets.format import format_change, format_value

__all__ = ["format_change", "format_value"]  # the screen's formatter: one format everywhere

RANGE_CHOICES = ("15m", "1h", "24h", "7d", "30d")
BASELINE_CHOICES = ("previous", "day", "week")  # queries.windows.BASELINES
DEFAULT_RANGE = "1h"
DEFAULT_ZONE = "Asia/Shanghai"
DASH = "—"


def display_zone(meta_zone: str | None) -> tzinfo:
    """ECOTOP_DISPLAY_ZONE, else the file's display_zone, else Asia/Shanghai."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from ecotop.queries.errors import BadInput

    name = os.environ.get("ECOTOP_DISPLAY_ZONE") or meta_zone or DEFAULT_ZONE
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadInput(f"unknown time zone {name!r} (use a name like Asia/Shanghai)") from None


def _table(ks: Any, as_of: str) -> str:
    from ecotop.queries import PILLARS

    head = ("pillar", "measure", "value", "previous", "change")
    rows: list[tuple[str, ...]] = []
    for pillar, ms in ks.pillars.items():
        for key, m in ms.items():
            kind = m.definition.kind
            mark = "≈" if m.approx else ""
            rows.append(
                (
                    PILLARS.get(pillar, pillar) if not rows or rows[-1][5] != pillar else "",
                    key,
                    mark + format_value(kind, m.value),
                    mark + format_value(kind, m.previous) if m.previous is not None else DASH,
                    format_change(kind, m.change),
                    pillar,
                )
            )
    widths = [max(len(head[i]), *(len(r[i]) for r in rows)) for i in range(5)]
    right = (False, False, True, True, True)

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(
            c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right, strict=False)
        ).rstrip()

    approx = any(m.approx for ms in ks.pillars.values() for m in ms.values())
    against = {"previous": "the previous window", "day": "a day earlier", "week": "a week earlier"}
    base = ks.window.baseline
    out = [
        f"range {ks.window.range}, window ending {as_of}"
        + (" (live)" if ks.live else "")
        + f"; previous = {against.get(base, base)}"
    ]
    out.append(line(head))
    out.extend(line(r[:5]) for r in rows)
    if approx:
        out.append("≈ distinct users beyond 24h are estimated from a user sample (within 2%)")
    return "\n".join(out)


def _csv(ks: Any, as_of: str, stream: Any) -> None:
    w = csv.writer(stream, lineterminator="\n")
    w.writerow(
        [
            "range",
            "as_of",
            "pillar",
            "measure",
            "value",
            "previous",
            "change",
            "approx",
            "baseline",
        ]
    )
    for r in ks.rows():
        w.writerow(
            [
                ks.window.range,
                as_of,
                r["pillar"],
                r["measure"],
                "" if r["value"] is None else r["value"],
                "" if r["previous"] is None else r["previous"],
                "" if r["change"] is None else round(r["change"], 6),
                "true" if r["approx"] else "false",
                ks.window.baseline,
            ]
        )


@click.command()
@click.argument("file", type=click.Path(path_type=Path, readable=False))
@click.option(
    "--range",
    "range_key",
    type=click.Choice(RANGE_CHOICES, case_sensitive=False),
    default=DEFAULT_RANGE,
    show_default=True,
    help="time range: the window [as_of - range, as_of) against the one before it",
)
@click.option(
    "--baseline",
    type=click.Choice(BASELINE_CHOICES, case_sensitive=False),
    default="previous",
    show_default=True,
    help="what `previous` is: the window just before, or the same window a day or a week earlier",
)
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
@click.option("--csv", "as_csv", is_flag=True, help="print CSV, one row per measure")
@guarded
def kpis(file: Path, range_key: str, baseline: str, as_json: bool, as_csv: bool) -> None:
    """Every pillar's headline measures of FILE for one time range (default 1h).

    The window ends at the minute after FILE's newest event; "previous" is the equal window before
    (or, with --baseline day|week, the same window a day or a week earlier).
    """
    if as_json and as_csv:
        raise click.UsageError("choose one of --json and --csv")
    from ecotop.queries import kpis as compute
    from ecotop.queries.files import open_db

    db = open_db(file)
    try:
        cur = db.cursor()
        ks = compute(cur, range_key.lower(), baseline=baseline.lower())
    finally:
        db.close()
    zone = display_zone(ks.display_zone)
    as_of = ks.as_of.astimezone(zone).isoformat()
    if as_json:
        sys.stdout.write(json.dumps(ks.to_dict(zone), indent=2, ensure_ascii=False) + "\n")
    elif as_csv:
        _csv(ks, as_of, sys.stdout)
    else:
        sys.stdout.write(_table(ks, as_of) + "\n")
    sys.stdout.flush()
