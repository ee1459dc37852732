"""How alert values read: counts, durations and measure values in their units."""

from __future__ import annotations

import math
from typing import Any

from ecotop.queries.measures import BY_ID, MeasureDef


def _vol_label(vol_id: str | None) -> str:
    if vol_id is None:
        return "events"
    m = BY_ID.get(vol_id)
    return m.label if m else vol_id.split(".", 1)[1]


def _fmt_count(v: float | None) -> str:
    if v is None:
        return "0"
    return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.2f}"


def fmt_duration(seconds: float | None) -> str:
    """90 -> '1m 30s', 300 -> '5m', 7200 -> '2h'."""
    if seconds is None:
        return "—"
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    parts = [f"{h}h" if h else "", f"{m}m" if m else "", f"{sec}s" if sec else ""]
    return " ".join(p for p in parts if p) or "0s"


def fmt_value(mdef: MeasureDef | None, v: Any) -> str:
    """A measure's value in its unit: rates as percentages (99.95% never shows as 100%), money in CNY."""
    if v is None:
        return "—"
    kind = mdef.kind if mdef else "number"
    f = float(v)
    if kind == "rate":
        return f"{f * 100:.2f}%" if f < 0.9995 or f >= 1 else f"{math.floor(f * 10000) / 100:.2f}%"
    if kind == "money":
        return f"CNY {f:,.2f}"
    if kind == "count":
        return f"{f:,.0f}"
    return f"{f:,.2f}"
