"""Every pillar's headline measures for a window and the previous one (the `kpis` contract)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from queries import registry
from queries.measures import MEASURES, PILLARS, MeasureDef
from queries.windows import Window, live_as_of, newest_as_of, window

# Hidden helper columns of headline queries that derived measures use: pillar.column -> value key.
_HELPERS = {
    "messaging": {"opens": "_opens", "moments_posts": "_posts"},
    "official_accounts": {"recipients": "_recipients"},
}


@dataclass(frozen=True)
class Measure:
    """One measure's value now and in the previous window, with what is needed to show it."""

    definition: MeasureDef
    value: Any
    previous: Any
    approx: bool = False

    @property
    def change(self) -> float | None:
        """Percent change for counts and money, percentage points for rates; None without previous."""
        if self.value is None or self.previous is None:
            return None
        v, p = float(self.value), float(self.previous)
        if self.definition.kind == "rate":
            return (v - p) * 100.0
        if p == 0:
            return None
        return (v - p) / abs(p) * 100.0


@dataclass
class KpiSet:
    """Headline measures of every pillar for one window."""

    window: Window
    as_of: datetime
    live: bool
    pillars: dict[str, dict[str, Measure]] = field(default_factory=dict)
    elapsed_ms: float = 0.0

    def get(self, measure_id: str) -> Measure:
        pillar, key = measure_id.split(".", 1)
        return self.pillars[pillar][key]

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract: {"range", "as_of", "pillars": {pillar: {measure: {"value", "previous"}}}}."""
        return {
            "range": self.window.range,
            "as_of": self.as_of.isoformat(),
            "pillars": {
                p: {
                    k: {
                        "value": _json_value(m.value),
                        "previous": _json_value(m.previous),
                        **({"approx": True} if m.approx else {}),
                    }
                    for k, m in ms.items()
                }
                for p, ms in self.pillars.items()
            },
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def rows(self) -> list[dict[str, Any]]:
        """Flat rows (pillar, measure, value, previous, change, approx) for CSV and tables."""
        out = []
        for p, ms in self.pillars.items():
            for k, m in ms.items():
                out.append(
                    {
                        "pillar": p,
                        "measure": k,
                        "value": _json_value(m.value),
                        "previous": _json_value(m.previous),
                        "change": m.change,
                        "approx": m.approx,
                    }
                )
        return out


def _json_value(v: Any) -> Any:
    if isinstance(v, Decimal):
        return float(v)
    if isinstance(v, float) and v != v:  # NaN
        return None
    return v


def resolve_as_of(cur: Any, live: bool = False, now: datetime | None = None) -> datetime | None:
    """The window end: the minute after the wall clock when live, else after the newest event."""
    return live_as_of(now) if live else newest_as_of(cur)


def kpis(
    cur: Any,
    range_key: str,
    *,
    as_of: datetime | None = None,
    live: bool = False,
    now: datetime | None = None,
    mod: int | None = None,
) -> KpiSet:
    """Compute every pillar's headline measures for `range_key` ending at `as_of`.

    `as_of` defaults to resolve_as_of(); `mod` is the file's user sampling modulus (read from the
    file when None). Runs every `<pillar>/headline` query and one distinct-users query on `cur`.
    """
    t0 = time.perf_counter()
    end = as_of or resolve_as_of(cur, live, now)
    if end is None:  # an empty file: every window is empty
        end = live_as_of(now)
    win = window(range_key, end)
    params = win.params()
    values: dict[str, dict[str, Any]] = {"c": {}, "p": {}}
    present = {"c": False, "p": False}
    reg = registry.registry()
    for pillar in PILLARS:
        q = reg.get(f"{pillar}/headline")
        if q is None:
            continue
        for row in q.rows(cur, **params):
            w = row.pop("win")
            present[w] = True
            for col, val in row.items():
                key = _HELPERS.get(pillar, {}).get(col, col)
                values[w][f"{pillar}.{key}"] = val
    if win.exact_users:
        urows = reg["users/active"].rows(cur, **params)
    else:
        if mod is None:
            row = cur.execute("SELECT value FROM ecotop_meta WHERE key = 'sample_mod'").fetchall()
            row = row[0] if row else None
            mod = int(row[0]) if row else 1
        urows = reg["users/active_approx"].rows(cur, mod=mod, **params)
    users = {r.pop("win"): r for r in urows}
    out: dict[str, dict[str, Measure]] = {p: {} for p in PILLARS}
    by_col = {}
    for m in MEASURES:
        if m.column:
            by_col[m.id] = f"{m.pillar}.{m.column}"
    for w in ("c", "p"):
        for m in MEASURES:
            if m.flag:
                values[w][m.id] = users.get(w, {}).get(m.flag, 0 if w == "c" else None)
            elif m.column:
                values[w][m.id] = values[w].get(by_col[m.id])
        for m in MEASURES:
            if m.derive:
                values[w][m.id] = m.derive(values[w])
    for m in MEASURES:
        cur_v = values["c"].get(m.id)
        prev_v = values["p"].get(m.id) if present["p"] or m.flag else None
        if m.flag and not present["p"] and not users.get("p"):
            prev_v = None
        out[m.pillar][m.key] = Measure(m, cur_v, prev_v, approx=m.users and not win.exact_users)
    return KpiSet(
        win,
        end,
        live,
        {p: ms for p, ms in out.items() if ms},
        elapsed_ms=(time.perf_counter() - t0) * 1000,
    )
