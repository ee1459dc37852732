"""`ecotop merchant FILE ID_OR_NAME`: one merchant's closed loop and measures, headless.

The same numbers as the merchant view (queries.merchant.merchant_detail): the funnel as an ordered
list of steps with counts and conversions, GMV, orders, AOV, refund rate, payers (new, returning),
member share, pay-to-member rate, repurchase, the entry mix, Pay Score, customer groups and Channels
lives. Numeric input is a merchant id; anything else is matched exactly as the merchant list's `/`
filter matches it (the text inside the name, industry or city, ignoring case): one merchant whose
name is the text, or a single match, is shown; several matches print `N merchants match` and the
first --limit of them in the list's order (GMV over the range, largest first: id, name, industry,
city) on stderr and exit 1; no match exits 1; a bad --range exits 2 (usage).

`--json` prints one object: {"merchant", "range", "as_of", "window", "funnel": [{"position", "step",
"label", "customers", "base", "converted", "conversion"}, ...], "measures": {NAME: {"value",
"previous", "change", "kind"}}, "repurchase", "trend", "entry_mix", "pay_score", "groups", "lives"};
rates are fractions, money numbers in CNY, times ISO 8601 in the display zone, missing values null.
Imports no Textual.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

import click

from ecotop.tui.commands.common import guarded
from ecotop.tui.commands.kpis import (
    DEFAULT_RANGE,
    RANGE_CHOICES,
    display_zone,
    format_change,
    format_value,
)
from ecotop.tui.widgets.format import format_count, funnel_words, plural, went_on

DASH = "—"


def _bar(value: float, top: float, width: int = 24) -> str:
    if top <= 0 or value <= 0:
        return ""
    n = max(1, round(value / top * width))
    return "█" * n


def _in_zone(obj: Any, zone: tzinfo) -> Any:
    if isinstance(obj, datetime):
        return obj.astimezone(zone)
    if isinstance(obj, dict):
        return {k: _in_zone(v, zone) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_in_zone(v, zone) for v in obj]
    return obj


def _columns(rows: Sequence[tuple[str, ...]], right: tuple[bool, ...]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(right))]
    return [
        "  ".join(
            c.rjust(w) if r else c.ljust(w) for c, w, r in zip(row, widths, right, strict=False)
        ).rstrip()
        for row in rows
    ]


MEASURE_LABELS = [
    ("gmv", "GMV"),
    ("orders", "orders"),
    ("aov", "AOV"),
    ("refund_rate", "refund rate"),
    ("payers", "payers"),
    ("new_payers", "new payers"),
    ("returning_payers", "returning payers"),
    ("member_share", "member share of GMV"),
    ("pay_to_member", "pay-to-member rate"),
    ("repeat_rate", "paid 2+ times in range"),
    ("repurchase_30d", "repurchase within 30d"),
    ("repurchase_90d", "repurchase within 90d"),
]


def render_text(d: dict[str, Any]) -> str:
    """The human-readable report of one merchant (plain text, no colour)."""
    m = d["merchant"]
    out = [
        f"{m['name']} (#{m['merchant_id']}, {m['industry']}, {m['city']})",
        f"range {d['range']}, window ending {d['as_of'].isoformat()}",
        "",
        "closed loop (went on: the share of the step above's customers who did it after)",
    ]
    top = max((s["customers"] for s in d["funnel"]), default=0)
    rows = [("customers who, in the range", "customers", "went on", "")]
    for s in d["funnel"]:
        conv = "" if s["position"] == 1 else went_on(s.get("base"), s["conversion"])
        rows.append(
            (
                funnel_words(s["step"], s["label"]),
                format_count(s["customers"], compact=False),
                conv,
                _bar(s["customers"], top),
            )
        )
    out += ["  " + line for line in _columns(rows, (False, True, True, False))]
    out += ["", "measures"]
    rows = [("measure", "value", "previous", "change")]
    for key, label in MEASURE_LABELS:
        ms = d["measures"][key]
        kind = ms["kind"]
        rows.append(
            (
                label,
                format_value(kind, ms["value"]),
                format_value(kind, ms["previous"]) if ms["previous"] is not None else DASH,
                format_change(kind, ms["change"]),
            )
        )
    out += ["  " + line for line in _columns(rows, (False, True, True, True))]
    rep = d["repurchase"]
    if not rep["cohort_30"]:
        out.append(
            "  (repurchase: no customer's first payment in this range is 30+ days before its end)"
        )
    out += ["", "entry mix"]
    rows = [("entry", "orders", "GMV", "share")]
    for e in d["entry_mix"]:
        rows.append(
            (
                e["entry"],
                f"{e['orders']:,}",
                format_value("money", e["gmv"]),
                format_value("rate", e["share"]),
            )
        )
    out += ["  " + line for line in _columns(rows, (False, True, True, True))]
    p = d["pay_score"]
    out += [
        "",
        "pay score",
        f"  orders {p['orders']:,} (done {p['done']:,}, doing {p['doing']:,}, created {p['created']:,},"
        f" revoked {p['revoked']:,}, expired {p['expired']:,}),"
        f" deposits waived {format_value('money', p['deposit_waived'])}",
        f"  completed {p['completed']:,}: collected day 0 {format_value('rate', p['collection_d0'])},"
        f" day 7 {format_value('rate', p['collection_d7'])}, day 30 {format_value('rate', p['collection_d30'])},"
        f" amount {format_value('rate', p['collection_rate'])}; unpaid 30d+ {p['overdue_30d']:,}",
    ]
    g = d["groups"]
    size = (
        DASH
        if g["avg_size"] is None
        else f"avg {g['avg_size']:.0f}, max {g['max_size']}, {g['at_cap']} at the {g['cap']} cap"
    )
    out += [
        "",
        "customer groups",
        f"  {plural(g['groups'], 'group')}, {plural(g['members'], 'member')} ({size});"
        f" active {format_value('rate', g['active_share'])}; joins {g['joins']:,}, leaves {g['leaves']:,}",
    ]
    lv = d["lives"]
    out += [
        "",
        "channels lives",
        f"  {plural(lv['lives'], 'live')}, {plural(lv['viewers'], 'viewer')},"
        f" peak {lv['peak_viewers'] or 0:,},"
        f" {plural(lv['orders'], 'order')}, GMV {format_value('money', lv['gmv'])}",
    ]
    for x in lv["top"][:5]:
        out.append(
            f"    {x['started_at'].strftime('%m-%d %H:%M')}  viewers {x['viewers']:,}"
            f"  peak {x['peak_viewers']:,}  GMV {format_value('money', x['gmv'])}"
        )
    return "\n".join(out)


def _pick(cur: Any, text: str, win: Any, limit: int) -> int:
    """The merchant id `text` names. A number is an id; other text is matched as the list's `/`
    filter matches it (queries.merchant.filter_order on the same table), so both find the same
    merchants. Several matches (and no name equal to the text) list the first `limit` and exit 1."""
    from ecotop.queries.merchant import (
        MerchantNotFound,
        filter_order,
        merchant_list,
        resolve_merchant,
        sort_order,
    )

    text = text.strip()
    if text.isdigit() or not text:
        return int(resolve_merchant(cur, text)["merchant_id"])
    table = merchant_list(cur, win)
    rows = filter_order(table, sort_order(table, "gmv", descending=True), text).to_pylist()
    if not rows:
        raise MerchantNotFound(f"no merchant named {text!r}")
    names = table["name"].to_pylist()
    exact = [r for r in rows if str(names[r]).lower() == text.lower()]
    if len(rows) == 1 or len(exact) == 1:
        return int(table["merchant_id"][(exact or rows)[0]].as_py())
    n = len(rows)
    click.echo(
        f"{n} merchants match {text!r} (name, industry or city); give an id or a more precise"
        f" name. The first by GMV over {win.range}:",
        err=True,
    )
    cols = [table[c].to_pylist() for c in ("merchant_id", "name", "industry", "city")]
    for r in rows[:limit]:
        click.echo("  " + "\t".join(str(c[r]) for c in cols), err=True)
    if n > limit:
        click.echo(f"  … {n - limit} more (--limit {limit})", err=True)
    sys.exit(1)


@click.command()
@click.argument("file", type=click.Path(path_type=Path, readable=False))
@click.argument("merchant")
@click.option(
    "--range",
    "range_key",
    type=click.Choice(RANGE_CHOICES, case_sensitive=False),
    default=DEFAULT_RANGE,
    show_default=True,
    help="time range: the window [as_of - range, as_of) against the one before it",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="when several merchants match, list this many",
)
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
@guarded
def merchant(file: Path, merchant: str, range_key: str, limit: int, as_json: bool) -> None:
    """One merchant's closed loop in FILE: MERCHANT is an id, or text matched like the list's `/`."""
    from ecotop.queries.files import open_db
    from ecotop.queries.kpis import resolve_as_of
    from ecotop.queries.merchant import merchant_detail
    from ecotop.queries.windows import live_as_of, window

    db = open_db(file)
    try:
        cur = db.cursor()
        as_of = resolve_as_of(cur, live=False) or live_as_of()
        win = window(range_key.lower(), as_of)
        merchant_id = _pick(cur, merchant, win, limit)
        detail = merchant_detail(cur, merchant_id, win)
        zone = display_zone(db.meta().get("display_zone"))
    finally:
        db.close()
    detail = _in_zone(detail, zone)
    if as_json:
        from ecotop.queries.merchant import detail_to_dict

        text = json.dumps(detail_to_dict(detail), indent=2, ensure_ascii=False)
    else:
        text = render_text(detail)
    sys.stdout.write(text + "\n")
    sys.stdout.flush()
