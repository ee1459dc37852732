"""How measures look on screen and in the CLI's tables: values per kind, changes with arrows, "≈" for
approximate values. One rule everywhere (tiles, tables, charts, `ecotop kpis`/`merchant`/`check`):

- money: below ¥1,000 in yuan with cents (`¥23.45`); from ¥1,000 compact with 3 significant figures
  (`¥1.29K`, `¥37.2K`, `¥351K`, `¥1.20M`), so no column mixes `¥71,959.72` with `¥351K`;
- counts: digits with separators up to 99,999, then compact (`123K`); one thing is `1`, never `1.0`;
- rates: a percentage with at least two decimals and more when rounding would reach 0% or 100%
  (`0.07%`, `99.95%`, `99.995%`; exactly `0.00%`, `100.00%`);
- changes: `▲ 3.4%` (counts, money, ratios), `▼ 0.12pp` (rates), `= 0%`, `—` without a baseline.

Pure functions (no Textual) so the formatting contract is tested on its own and the headless
commands share it without importing a UI.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

DASH = "—"
UP = "▲"
DOWN = "▼"
FLAT = "="


_UNITS = ((1e3, "K"), (1e6, "M"), (1e9, "B"), (1e12, "T"))


def _compact(x: float, prefix: str = "") -> str:
    """123456 -> 123K; 1.2e6 -> 1.20M; 3.4e9 -> 3.40B (3 significant figures)."""
    a = abs(x)
    sign = "-" if x < 0 else ""
    if round(a) < 1e3:
        return f"{sign}{prefix}{a:,.0f}"
    for i, (limit, suffix) in enumerate(_UNITS):
        last = i == len(_UNITS) - 1
        if not last and a >= _UNITS[i + 1][0]:
            continue
        v = a / limit
        digits = 2 if v < 10 else 1 if v < 100 else 0
        text = f"{v:.{digits}f}"
        if float(text) >= 1000 and not last:  # 999.6K would read 1000K: say 1.00M
            return f"{sign}{prefix}1.00{_UNITS[i + 1][1]}"
        return f"{sign}{prefix}{text}{suffix}"
    return f"{sign}{prefix}{a:,.0f}"  # pragma: no cover


def format_count(value: Any, compact: bool = True) -> str:
    """A whole number: `12,345`, then `123K` (compact) from 100,000."""
    x = float(value)
    if compact and abs(x) >= 1e5:
        return _compact(x)
    return f"{round(x):,}"


#: Money from this many yuan is written compact (¥1.29K); below it, with cents.
MONEY_COMPACT_FROM = 1e3


def format_money(value: Any, compact: bool = True) -> str:
    """CNY: `¥23.45` below ¥1,000, `¥1.29K`/`¥351K`/`¥1.20M` from there (compact=False: in full)."""
    x = float(value)
    if compact and abs(round(x, 2)) >= MONEY_COMPACT_FROM:
        return _compact(x, "¥")
    sign = "-" if x < 0 else ""
    return f"{sign}¥{abs(Decimal(str(value))).quantize(Decimal('0.01')):,}"


def format_rate(value: Any) -> str:
    """A fraction as a percentage with enough decimals that 0.9995 never shows as 100%."""
    pct = float(value) * 100.0
    if pct >= 100.0 or pct <= 0.0:
        return f"{pct:.2f}%"
    # Two decimals usually; more when rounding would reach 100% (or 0%).
    for digits in (2, 3, 4, 5, 6):
        text = f"{pct:.{digits}f}"
        if float(text) < 100.0 and float(text) > 0.0:
            return f"{text}%"
    return f"{pct:.6f}%"


def format_number(value: Any, compact: bool = True) -> str:
    x = float(value)
    if compact and abs(x) >= 1e5:
        return _compact(x)
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:,.1f}"


def format_ratio(value: Any) -> str:
    x = float(value)
    if abs(x) >= 1e5:
        return _compact(x)
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.2f}"


def format_value(kind: str, value: Any, *, approx: bool = False, compact: bool = True) -> str:
    """The value of a measure of `kind` (count, money, rate, ratio, number); "—" for none."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return DASH
    if kind == "count":
        text = format_count(value, compact)
    elif kind == "money":
        text = format_money(value, compact)
    elif kind == "rate":
        text = format_rate(value)
    elif kind == "ratio":
        text = format_ratio(value)
    else:
        text = format_number(value, compact)
    return f"≈{text}" if approx else text


def format_growth(fraction: Any) -> str:
    """A growth given as a fraction (gmv / gmv_previous - 1), written as a change: `▲ 20.0%`."""
    if fraction is None or (isinstance(fraction, float) and not math.isfinite(fraction)):
        return DASH
    return format_change("count", float(fraction) * 100.0)


def plural(n: int, word: str, words: str | None = None) -> str:
    """`1 row`, `2 rows`, `1,234 rows`: the count with the word in the right number."""
    return f"{n:,} {word if n == 1 else (words or word + 's')}"


def format_change(kind: str, change: float | None) -> str:
    """The change against the baseline: "▲ 3.4%" (counts, money), "▼ 0.12pp" (rates), "—"."""
    if change is None or (isinstance(change, float) and not math.isfinite(change)):
        return DASH
    unit = "pp" if kind == "rate" else "%"
    a = abs(change)
    if kind == "rate":
        text = f"{a:.2f}" if a < 10 else f"{a:.1f}"
    else:
        text = f"{a:.1f}" if a < 1000 else f"{a:,.0f}"
    if float(text.replace(",", "")) == 0.0:
        return f"{FLAT} 0{unit}"
    arrow = UP if change > 0 else DOWN
    return f"{arrow} {text}{unit}"


#: The funnel's steps in words that say they count customers who did something (the merchant view and
#: `ecotop merchant`): "placed an order" can never be read as the Orders measure (a count of orders).
FUNNEL_WORDS: dict[str, str] = {
    "oa_read": "read Official Account",
    "mp_visit": "visited Mini Program",
    "order": "placed an order",
    "pay": "paid",
    "member": "became a member",
    "wecom_add": "added on WeCom",
    "group_join": "joined a group",
    "live_view": "watched a live",
    "repurchase": "bought again",
}


def funnel_words(step: str, label: str = "") -> str:
    """What customers at funnel step `step` did, in words (the query's label when unknown)."""
    return FUNNEL_WORDS.get(step, label or step)


def went_on(base: Any, conversion: Any) -> str:
    """The conversion into a step: `40.00% of 30` (of the step above's customers); `—` when the step
    above had nobody."""
    if conversion is None or not base:
        return DASH
    return f"{format_rate(conversion)} of {format_count(base)}"


def change_direction(change: float | None) -> int:
    """+1 up, -1 down, 0 flat or unknown."""
    if change is None or not math.isfinite(change) or change == 0:
        return 0
    return 1 if change > 0 else -1
