"""The merchant drill-down: every merchant's measures for the list, and one merchant's closed loop.

Used by the Merchants screens and by `ecotop merchant`; nothing here imports Textual or duckdb. The
SQL is in queries/merchant/*.sql (each file documents its rows); this module runs it, shapes the
results and does the in-memory work of the list (filtering and sorting 100k rows per keystroke
without going back to the database).

- `merchant_list(cur, win)`: every merchant with GMV, orders, growth, AOV and refund rate from the
  per-merchant rollups (fast); `merchant_loyalty(cur, win)` gives the repurchase rate and member share
  (a distinct count over raw payments and a membership lookup: slower, so the screen fills those
  columns in afterwards; `merchant_list(..., loyalty=True)` does both).
- `filter_merchants(table, text)` / `sort_merchants(table, column, descending)`: literal,
  case-insensitive substring match on name, industry and city; sorting with missing values last.
- `find_merchants(cur, text)` / `resolve_merchant(cur, text)`: a merchant by id or name.
- `merchant_detail(cur, merchant_id, win)`: the funnel and every tile of the merchant view.

One piece over ~500 lines: the list and the one-merchant view share the window arithmetic and
the result shaping; the SQL itself is in queries/merchant/*.sql.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pyarrow as pa

from ecotop.queries.registry import get as _get
from ecotop.queries.registry import registry as _registry
from ecotop.queries.windows import Window
from ecotop.store.errors import BadInput, StoreError

# The closed loop, in order: (step as in the touchpoints view, label).
STEPS: list[tuple[str, str]] = [
    ("oa_read", "Official Account reach"),
    ("mp_visit", "Mini Program visit"),
    ("order", "Order"),
    ("pay", "Pay"),
    ("member", "Member enrolment"),
    ("wecom_add", "WeCom contact"),
    ("group_join", "Customer group join"),
    ("live_view", "Channels live view"),
    ("repurchase", "Repurchase"),
]
STEP_LABELS = dict(STEPS)

ENTRIES = ("qr", "face", "mini_program", "in_app", "channels_live")

# Columns of the list that can be sorted: column -> (label, kind).
LIST_COLUMNS: dict[str, tuple[str, str]] = {
    "merchant_id": ("ID", "id"),
    "name": ("Name", "text"),
    "industry": ("Industry", "text"),
    "city": ("City", "text"),
    "gmv": ("GMV", "money"),
    "orders": ("Orders", "count"),
    "growth": ("Growth", "change"),
    "aov": ("AOV", "money"),
    "refund_rate": ("Refund", "rate"),
    "repurchase_rate": ("Repurch.", "rate"),
    "member_share": ("Member", "rate"),
}

# Groups of this many members are at WeCom's cap for customer groups.
GROUP_CAP = 500

# Buckets of the GMV trend per range: seconds per bucket.
TREND_STEP_S: dict[str, int] = {
    "15m": 60,
    "1h": 120,
    "24h": 3600,
    "7d": 6 * 3600,
    "30d": 86400,
}


class MerchantNotFound(StoreError):
    """No merchant has that id or name."""


class AmbiguousMerchant(StoreError):
    """A name matches several merchants; `matches` lists them (id, name, industry, city)."""

    def __init__(self, text: str, matches: list[dict[str, Any]]) -> None:
        super().__init__(
            f"{text!r} matches {len(matches)} merchants; give an id or a more precise name"
        )
        self.matches = matches


# -- the list ---------------------------------------------------------------------------------------


def merchants_signature(cur: Any) -> tuple[int, int]:
    """(count, largest id) of the merchants: cached names stay valid while it is unchanged."""
    row = _rows(cur, "merchant/signature")[0]
    return int(row["n"]), int(row["max_id"])


def merchant_dims(cur: Any) -> pa.Table:
    """merchant_id, name, industry, city of every merchant by id, plus `_key` (lower-cased "name
    industry city", what the filter matches). Cache it with `merchants_signature`."""
    return _with_key(_get("merchant/dims").run(cur))


def merchant_numbers(cur: Any, win: Window) -> pa.Table:
    """(win, merchant_id, orders, gmv, refunded) of the merchants with payments in `win` ('c') or
    its previous window ('p'): queries/merchant/list.sql."""
    return _get("merchant/list").run(cur, **win.params())


_CENT = Decimal("0.01")


def _money(cents: pa.Array | pa.ChunkedArray) -> pa.Array:
    """int64 cents as DECIMAL(38, 2) CNY, exactly: the cents cast to a 128-bit decimal of scale 0
    are the unscaled value of the same amount at scale 2, so the buffers are reused (a decimal
    multiply costs ten times more at 100k rows)."""
    if isinstance(cents, pa.ChunkedArray):
        cents = cents.combine_chunks()
    d = cents.cast(pa.int64()).cast(pa.decimal128(38, 0))
    return pa.Array.from_buffers(
        pa.decimal128(38, 2), len(d), d.buffers(), null_count=d.null_count, offset=d.offset
    )


def assemble_list(dims: pa.Table, numbers: pa.Table, loyalty: pa.Table | None = None) -> pa.Table:
    """Every merchant of `dims` with its measures: gmv, orders, prev_gmv, prev_orders, growth
    (gmv / prev_gmv - 1, null without previous GMV), aov (gmv / orders rounded half up to the cent,
    null without orders), refund_rate (refunded / gmv), and repurchase_rate and member_share from
    `loyalty` (null when not given). Merchants without payments get zeros and nulls.

    Vectorised in Polars (integer cents, so money stays exact): milliseconds for 100k merchants.
    """
    import polars as pl

    nums = pl.DataFrame(pl.from_arrow(numbers))
    cur = nums.filter(pl.col("win") == "c").select(
        "merchant_id", "orders", "gmv_cents", "refunded_cents"
    )
    prev = nums.filter(pl.col("win") == "p").select(
        "merchant_id",
        pl.col("orders").alias("prev_orders"),
        pl.col("gmv_cents").alias("prev_cents"),
    )
    ids = pl.DataFrame(pl.from_arrow(dims.select(["merchant_id"])))
    j = (
        ids.join(cur, on="merchant_id", how="left", maintain_order="left")
        .join(prev, on="merchant_id", how="left", maintain_order="left")
        .fill_null(0)
        .select(
            pl.col("gmv_cents"),
            pl.col("orders"),
            pl.col("prev_cents"),
            pl.col("prev_orders"),
            pl.when(pl.col("prev_cents") > 0)
            .then(pl.col("gmv_cents") / pl.col("prev_cents") - 1.0)
            .alias("growth"),
            # half up, in whole cents
            pl.when(pl.col("orders") > 0)
            .then((2 * pl.col("gmv_cents") + pl.col("orders")) // (2 * pl.col("orders")))
            .alias("aov_cents"),
            pl.when(pl.col("gmv_cents") > 0)
            .then(pl.col("refunded_cents") / pl.col("gmv_cents"))
            .alias("refund_rate"),
        )
        .to_arrow()
    )
    n = dims.num_rows
    table = pa.table(
        {
            **{c: dims[c] for c in dims.column_names},
            "gmv": _money(j["gmv_cents"]),
            "_gmv_c": j["gmv_cents"].cast(pa.int64()),
            "orders": j["orders"].cast(pa.int64()),
            "prev_gmv": _money(j["prev_cents"]),
            "prev_orders": j["prev_orders"].cast(pa.int64()),
            "growth": j["growth"].cast(pa.float64()),
            "aov": _money(j["aov_cents"]),
            "_aov_c": j["aov_cents"].cast(pa.int64()),
            "refund_rate": j["refund_rate"].cast(pa.float64()),
            "repurchase_rate": pa.nulls(n, pa.float64()),
            "member_share": pa.nulls(n, pa.float64()),
        }
    )
    if loyalty is not None:
        table = with_loyalty(table, loyalty)
    return table


def merchant_list(cur: Any, win: Window, *, loyalty: bool = False) -> pa.Table:
    """Every merchant (inactive ones with zeros) with its measures over `win`, by merchant_id.

    Columns: merchant_id, name, industry, city, `_key` (what the filter matches), gmv, orders,
    prev_gmv, prev_orders, growth, aov, refund_rate (queries/merchant/list.sql: from the rollups,
    fast), repurchase_rate and member_share (null unless `loyalty`; see `merchant_loyalty`).
    """
    return assemble_list(
        merchant_dims(cur),
        merchant_numbers(cur, win),
        merchant_loyalty(cur, win) if loyalty else None,
    )


def _with_key(table: pa.Table) -> pa.Table:
    import pyarrow.compute as pc

    key = pc.utf8_lower(
        pc.binary_join_element_wise(
            table["name"], table["industry"], table["city"], pa.scalar("\x1f", pa.string())
        )
    )
    return table.append_column("_key", key)


def merchant_loyalty(cur: Any, win: Window) -> pa.Table:
    """Per merchant with payments in `win`: payers, repeat_payers, repurchase_rate (payers with 2+
    paid payments in the window / payers), member_gmv and member_share (queries/merchant/
    list_loyalty.sql: a distinct count over the raw payments, so slower than `merchant_list`)."""
    return _get("merchant/list_loyalty").run(cur, s=win.start, e=win.end)


def with_loyalty(table: pa.Table, loyalty: pa.Table) -> pa.Table:
    """`table` (from merchant_list, in any order) with repurchase_rate and member_share filled in
    from `loyalty`; merchants without payments in the window keep nulls (no payers, no rate)."""
    import pyarrow.compute as pc

    idx = pc.index_in(table["merchant_id"], value_set=loyalty["merchant_id"])
    for column in ("repurchase_rate", "member_share"):
        values = pc.take(loyalty[column], idx).cast(pa.float64())
        table = table.set_column(table.schema.get_field_index(column), column, values)
    return table


def filter_order(table: pa.Table, order: pa.Array, text: str) -> pa.Array:
    """The rows of `order` (row numbers of `table`) whose name, industry or city contains `text`,
    ignoring case, in the order of `order`. `text` is taken literally (quotes, %, _ and SQL are
    plain characters); empty text keeps every row. No table is copied: one substring pass over the
    `_key` column and integer takes, so a keystroke costs milliseconds at 100k merchants."""
    import pyarrow.compute as pc

    needle = text.strip().lower()
    if not needle:
        return order
    mask = pc.match_substring(table["_key"], pattern=needle)
    return pc.filter(order, pc.take(mask, order))


def sort_order(table: pa.Table, column: str, descending: bool = True) -> pa.Array:
    """Row numbers of `table` sorted by `column` (missing values last), ties by merchant_id
    ascending. Money sorts on its integer cents when the table has them (`_<column>_c`)."""
    import pyarrow.compute as pc

    if column not in LIST_COLUMNS:
        raise BadInput(f"cannot sort merchants by {column!r}; use one of {', '.join(LIST_COLUMNS)}")
    key = f"_{column}_c" if f"_{column}_c" in table.column_names else column
    order = "descending" if descending else "ascending"
    keys = [(key, order, "at_end")]
    if column != "merchant_id":
        keys.append(("merchant_id", "ascending", "at_end"))
    return pc.sort_indices(table, sort_keys=keys)


def filter_merchants(table: pa.Table, text: str) -> pa.Table:
    """The rows of `table` whose name, industry or city contains `text` (see `filter_order`)."""
    import pyarrow.compute as pc

    needle = text.strip().lower()
    if not needle:
        return table
    return table.filter(pc.match_substring(table["_key"], pattern=needle))


def sort_merchants(table: pa.Table, column: str, descending: bool = True) -> pa.Table:
    """`table` sorted by `column` (see `sort_order`)."""
    return table.take(sort_order(table, column, descending))


# -- finding one merchant ---------------------------------------------------------------------------


def find_merchants(cur: Any, text: str, limit: int = 50) -> list[dict[str, Any]]:
    """Merchants whose id is `text` (when it is a number) or whose name contains it, literally and
    ignoring case; the id match and exact names first. At most `limit` rows."""
    text = text.strip()
    mid = int(text) if text.isdigit() else None
    rows = _get("merchant/find").rows(cur, text=text, id=mid, limit=limit)
    return rows


def resolve_merchant(cur: Any, text: str) -> dict[str, Any]:
    """The one merchant `text` names: numeric input is an id; otherwise a name, matched exactly
    (ignoring case) or as a unique substring. Raises MerchantNotFound or AmbiguousMerchant."""
    text = text.strip()
    if not text:
        raise BadInput("give a merchant id or name")
    if text.isdigit():
        rows = _get("merchant/find").rows(cur, text="", id=int(text), limit=1)
        rows = [r for r in rows if r["merchant_id"] == int(text)]
        if not rows:
            raise MerchantNotFound(f"no merchant with id {text}")
        return _public(rows[0])
    rows = find_merchants(cur, text, limit=51)
    exact = [r for r in rows if r["exact"]]
    if len(exact) == 1:
        return _public(exact[0])
    if len(exact) > 1:
        raise AmbiguousMerchant(text, [_public(r) for r in exact])
    if len(rows) == 1:
        return _public(rows[0])
    if not rows:
        raise MerchantNotFound(f"no merchant named {text!r}")
    raise AmbiguousMerchant(text, [_public(r) for r in rows])


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in ("merchant_id", "name", "industry", "city")}


# -- one merchant -----------------------------------------------------------------------------------


def _rows(cur: Any, name: str, **params: Any) -> list[dict[str, Any]]:
    """Run a named query with exactly its parameters and return dicts.

    For the small results of the merchant view this uses execute/fetchall, which binds the query once
    (the relation API binds it twice: measured at a third of a small query's time).
    """
    q = _registry()[name]
    missing = q.params - params.keys()
    if missing:
        raise TypeError(f"query {name} needs parameters {sorted(missing)}")
    res = cur.execute(q.sql, {k: v for k, v in params.items() if k in q.params})
    res = cur if res is None else res
    cols = [d[0] for d in res.description]
    return [dict(zip(cols, row, strict=True)) for row in res.fetchall()]


def _div(a: Any, b: Any) -> float | None:
    if a is None or b is None or float(b) == 0:
        return None
    return float(a) / float(b)


def _money_div(a: Any, b: Any) -> Decimal | None:
    if a is None or b is None or b == 0:
        return None
    return (Decimal(a) / Decimal(b)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


# How each measure of the merchant view is shown and compared: name -> kind.
MEASURE_KINDS: dict[str, str] = {
    "gmv": "money",
    "orders": "count",
    "aov": "money",
    "refund_rate": "rate",
    "payers": "count",
    "new_payers": "count",
    "returning_payers": "count",
    "member_share": "rate",
    "pay_to_member": "rate",
    "repeat_rate": "rate",
    "repurchase_30d": "rate",
    "repurchase_90d": "rate",
}


def change(kind: str, value: Any, previous: Any) -> float | None:
    """Percent change for counts and money, percentage points for rates; None without previous."""
    if value is None or previous is None:
        return None
    v, p = float(value), float(previous)
    if kind == "rate":
        return (v - p) * 100.0
    if p == 0:
        return None
    return (v - p) / abs(p) * 100.0


def _pay_measures(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "gmv": row["gmv"],
        "orders": row["orders"],
        "aov": _money_div(row["gmv"], row["orders"]),
        "refund_rate": _div(row["refunded"], row["gmv"]),
        "payers": row["payers"],
        "new_payers": row["new_payers"],
        "returning_payers": row["returning_payers"],
        "member_share": _div(row["member_gmv"], row["gmv"]),
        "pay_to_member": _div(row["pay_after"], row["first_nonmember"]),
        "repeat_rate": _div(row["repeat_payers"], row["payers"]),
    }


def trend_step(win: Window) -> int:
    """Seconds per bucket of the GMV trend for the window's range."""
    step = TREND_STEP_S.get(win.range)
    if step is None:
        step = max(60, int(win.length.total_seconds()) // 30)
    return step


def merchant_detail(cur: Any, merchant_id: int, win: Window) -> dict[str, Any]:
    """Everything the merchant view shows for `merchant_id` over `win` (raises MerchantNotFound).

    Returns a dict: merchant (id, name, industry, city, province, linked accounts), range, as_of,
    window, funnel (a list of steps in loop order: step, label, customers, base, converted,
    conversion), measures ({name: {value, previous, change, kind}}), repurchase cohorts, trend
    (bucket_s, current and previous GMV per bucket), entry_mix, pay_score, groups and lives.
    A merchant without activity in the window gets zeros (and no rates), never an error.
    """
    t0 = time.perf_counter()
    mid = int(merchant_id)
    info = _rows(cur, "merchant/info", m=mid)
    if not info:
        raise MerchantNotFound(f"no merchant with id {mid}")
    p = {"m": mid, **win.params()}
    cw = {"m": mid, "s": win.start, "e": win.end}

    funnel = []
    for row in _rows(cur, "merchant/funnel", **cw):
        funnel.append({"label": STEP_LABELS[row["step"]], **row})

    row = _rows(cur, "merchant/pay", **p)[0]
    pay = {w: {k[2:]: v for k, v in row.items() if k.startswith(f"{w}_")} for w in ("c", "p")}
    for v in pay.values():
        v["returning_payers"] = v["payers"] - v["new_payers"]
    cur_m, prev_m = _pay_measures(pay["c"]), _pay_measures(pay["p"])
    if win.length > timedelta(days=30):
        rep = _rows(cur, "merchant/repurchase", **cw)[0]
    else:  # nobody's first payment in a window of 30 days or less is 30 days before its end
        rep = {"cohort_30": 0, "repurchased_30": 0, "cohort_90": 0, "repurchased_90": 0}
    cur_m["repurchase_30d"] = _div(rep["repurchased_30"], rep["cohort_30"])
    cur_m["repurchase_90d"] = _div(rep["repurchased_90"], rep["cohort_90"])
    has_prev = pay["p"]["attempts"] > 0
    measures = {}
    for name, kind in MEASURE_KINDS.items():
        value = cur_m.get(name)
        previous = prev_m.get(name) if has_prev else None
        measures[name] = {
            "value": value,
            "previous": previous,
            "change": change(kind, value, previous),
            "kind": kind,
        }

    step = trend_step(win)
    n = max(1, -(-int(win.length.total_seconds()) // step))
    series = {"c": [Decimal(0)] * n, "p": [Decimal(0)] * n}
    for r in _rows(cur, "merchant/trend", step=step, m=mid, **win.params()):
        if 0 <= r["bucket"] < n:
            series[r["win"]][r["bucket"]] = r["gmv"]

    entries = _rows(cur, "merchant/entry_mix", **cw)
    total_gmv = sum((e["gmv"] for e in entries), Decimal(0))
    for e in entries:
        e["share"] = _div(e["gmv"], total_gmv)

    ps = _rows(cur, "merchant/payscore", **cw)[0]
    ps["collection_d0"] = _div(ps["paid_d0"], ps["completed"])
    ps["collection_d7"] = _div(ps["paid_d7"], ps["completed"])
    ps["collection_d30"] = _div(ps["paid_d30"], ps["completed"])
    ps["collection_rate"] = _div(ps["collected_amount"], ps["completed_amount"])

    groups = _rows(cur, "merchant/groups", **cw)
    sizes = [g["member_count"] for g in groups]
    group_summary = {
        "groups": len(groups),
        "members": sum(sizes),
        "avg_size": (sum(sizes) / len(sizes)) if sizes else None,
        "max_size": max(sizes) if sizes else None,
        "cap": GROUP_CAP,
        "at_cap": sum(1 for s in sizes if s >= GROUP_CAP),
        "fill": _div(sum(sizes), len(sizes) * GROUP_CAP) if sizes else None,
        "active": sum(1 for g in groups if g["active"]),
        "active_share": _div(sum(1 for g in groups if g["active"]), len(groups)),
        "joins": sum(g["joins"] for g in groups),
        "leaves": sum(g["leaves"] for g in groups),
        "histogram": _size_histogram(sizes),
        "top": groups[:10],
    }

    lives = _rows(cur, "merchant/lives", **cw)
    live_summary = {
        "lives": len(lives),
        "viewers": sum(x["viewers"] for x in lives),
        "views": sum(x["views"] for x in lives),
        "peak_viewers": max((x["peak_viewers"] for x in lives), default=None),
        "orders": sum(x["orders"] for x in lives),
        "gmv": sum((x["gmv"] for x in lives), Decimal(0)),
        "top": lives[:10],
    }

    merchant = info[0]
    return {
        "merchant": merchant,
        "range": win.range,
        "as_of": win.end,
        "window": {
            "start": win.start,
            "end": win.end,
            "prev_start": win.prev_start,
            "prev_end": win.prev_end,
        },
        "funnel": funnel,
        "measures": measures,
        "repurchase": rep,
        "trend": {
            "bucket_s": step,
            "current": series["c"],
            "previous": series["p"] if has_prev else None,
        },
        "entry_mix": entries,
        "pay_score": ps,
        "groups": group_summary,
        "lives": live_summary,
        "elapsed_ms": (time.perf_counter() - t0) * 1000,
    }


# Group-size bands against the 500 cap: (label, low, high) inclusive.
SIZE_BANDS: list[tuple[str, int, int]] = [
    ("1-49", 0, 49),
    ("50-99", 50, 99),
    ("100-199", 100, 199),
    ("200-299", 200, 299),
    ("300-399", 300, 399),
    ("400-499", 400, 499),
    ("500 (cap)", 500, 500),
]


def _size_histogram(sizes: list[int]) -> list[dict[str, Any]]:
    return [
        {"band": label, "groups": sum(1 for s in sizes if lo <= s <= hi)}
        for label, lo, hi in SIZE_BANDS
    ]


# -- JSON -------------------------------------------------------------------------------------------


def _jsonable(v: Any) -> Any:
    if isinstance(v, Decimal):
        return float(v)
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, timedelta):
        return v.total_seconds()
    if isinstance(v, float) and v != v:
        return None
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    return v


def detail_to_dict(detail: dict[str, Any]) -> dict[str, Any]:
    """The JSON contract of `ecotop merchant --json`: the detail with money as numbers, times in ISO
    8601, rates as fractions, missing values as null (elapsed time left out)."""
    out: dict[str, Any] = _jsonable({k: v for k, v in detail.items() if k != "elapsed_ms"})
    return out


def detail_to_json(detail: dict[str, Any], indent: int | None = 2) -> str:
    return json.dumps(detail_to_dict(detail), indent=indent, ensure_ascii=False)
