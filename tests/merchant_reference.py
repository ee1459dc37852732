"""An independent reference for the merchant drill-down: every measure recomputed with Polars and plain
Python from the raw tables (never the rollups, never queries/merchant/*.sql), for the tests to compare.

Definitions follow DESIGN.md ("The merchant closed loop") as written there, step by step.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import polars as pl

RAW = (
    "merchants",
    "official_accounts",
    "oa_reads",
    "mp_visits",
    "transactions",
    "memberships",
    "wecom_contacts",
    "groups",
    "group_members",
    "wecom_messages",
    "live_sessions",
    "channel_views",
    "payscore_orders",
)

STEPS = [
    "oa_read",
    "mp_visit",
    "order",
    "pay",
    "member",
    "wecom_add",
    "group_join",
    "live_view",
    "repurchase",
]


def load(cur: Any) -> dict[str, pl.DataFrame]:
    """Every raw table the drill-down reads, as Polars frames."""
    return {t: pl.from_arrow(cur.sql(f"SELECT * FROM {t}").to_arrow_table()) for t in RAW}


def _rows(df: pl.DataFrame) -> list[dict[str, Any]]:
    return df.to_dicts()


def events(raw: dict[str, pl.DataFrame], m: int) -> list[tuple[datetime, int, str]]:
    """(ts, user_id, step) of merchant `m`, straight from the raw tables."""
    out: list[tuple[datetime, int, str]] = []
    accounts = raw["official_accounts"].filter(pl.col("merchant_id") == m)["account_id"]
    for r in _rows(raw["oa_reads"].filter(pl.col("account_id").is_in(accounts.implode()))):
        out.append((r["ts"], r["user_id"], "oa_read"))
    for r in _rows(raw["mp_visits"].filter(pl.col("merchant_id") == m)):
        out.append((r["ts"], r["user_id"], "mp_visit"))
    for r in _rows(raw["transactions"].filter(pl.col("merchant_id") == m)):
        out.append((r["ts"], r["user_id"], "order"))
        if r["status"] != "failed":
            out.append((r["ts"], r["user_id"], "pay"))
    for r in _rows(raw["memberships"].filter(pl.col("merchant_id") == m)):
        out.append((r["enrolled_at"], r["user_id"], "member"))
    for r in _rows(
        raw["wecom_contacts"].filter((pl.col("merchant_id") == m) & (pl.col("action") == "add"))
    ):
        out.append((r["ts"], r["user_id"], "wecom_add"))
    groups = raw["groups"].filter(pl.col("merchant_id") == m)["group_id"]
    for r in _rows(
        raw["group_members"].filter(
            pl.col("group_id").is_in(groups.implode()) & (pl.col("action") == "join")
        )
    ):
        out.append((r["ts"], r["user_id"], "group_join"))
    lives = raw["live_sessions"].filter(pl.col("merchant_id") == m)["live_id"]
    for r in _rows(raw["channel_views"].filter(pl.col("live_id").is_in(lives.implode()))):
        out.append((r["ts"], r["user_id"], "live_view"))
    return out


def funnel(raw: dict[str, pl.DataFrame], m: int, s: datetime, e: datetime) -> list[dict[str, Any]]:
    """customers, base, converted, conversion per step (DESIGN.md's definition)."""
    by_step: dict[str, dict[int, list[datetime]]] = {k: defaultdict(list) for k in STEPS}
    for ts, user, step in events(raw, m):
        if s <= ts < e:
            by_step[step][user].append(ts)
    # repurchase: every paid payment of a customer in the window but their first one
    for user, times in by_step["pay"].items():
        times = sorted(times)
        if len(times) >= 2:
            by_step["repurchase"][user] = times[1:]
    out = []
    for k, step in enumerate(STEPS):
        users = by_step[step]
        row: dict[str, Any] = {"step": step, "customers": len(users)}
        if k == 0:
            row.update(base=None, converted=None, conversion=None)
        else:
            before = by_step[STEPS[k - 1]]
            converted = sum(
                1 for u, times in before.items() if any(t >= min(times) for t in users.get(u, []))
            )
            row.update(
                base=len(before),
                converted=converted,
                conversion=(converted / len(before)) if before else None,
            )
        out.append(row)
    return out


def pay(raw: dict[str, pl.DataFrame], m: int, s: datetime, e: datetime) -> dict[str, Any]:
    """The payment measures of merchant `m` in [s, e) (see queries/merchant/pay.sql's contract)."""
    tx = _rows(raw["transactions"].filter((pl.col("merchant_id") == m) & (pl.col("ts") < e)))
    mem = _rows(
        raw["memberships"].filter((pl.col("merchant_id") == m) & (pl.col("enrolled_at") < e))
    )
    since: dict[int, datetime] = {}
    for r in mem:
        since[r["user_id"]] = min(since.get(r["user_id"], r["enrolled_at"]), r["enrolled_at"])
    first_paid: dict[int, datetime] = {}
    for r in tx:
        if r["status"] != "failed":
            u = r["user_id"]
            first_paid[u] = min(first_paid.get(u, r["ts"]), r["ts"])
    win = [r for r in tx if s <= r["ts"] < e]
    paid = [r for r in win if r["status"] != "failed"]
    gmv = sum((r["amount"] for r in paid), Decimal(0))
    refunded = sum((r["amount"] for r in paid if r["status"] == "refunded"), Decimal(0))
    member_gmv = sum(
        (r["amount"] for r in paid if r["user_id"] in since and since[r["user_id"]] <= r["ts"]),
        Decimal(0),
    )
    n_by_user: dict[int, int] = defaultdict(int)
    for r in paid:
        n_by_user[r["user_id"]] += 1
    payers = set(n_by_user)
    new = {u for u in payers if first_paid[u] >= s}
    first_nonmember = {u for u in new if u not in since or since[u] > first_paid[u]}
    pay_after = {
        r["user_id"]
        for r in mem
        if r["channel"] == "pay_after"
        and r["user_id"] in first_nonmember
        and r["enrolled_at"] >= first_paid[r["user_id"]]
        and s <= r["enrolled_at"] < e
    }
    return {
        "attempts": len(win),
        "orders": len(paid),
        "gmv": gmv,
        "refunded": refunded,
        "member_gmv": member_gmv,
        "payers": len(payers),
        "repeat_payers": sum(1 for n in n_by_user.values() if n >= 2),
        "new_payers": len(new),
        "returning_payers": len(payers - new),
        "first_nonmember": len(first_nonmember),
        "pay_after": len(pay_after),
    }


def repurchase(
    raw: dict[str, pl.DataFrame], m: int, s: datetime, e: datetime, days: int
) -> tuple[int, int]:
    """(cohort, repurchased) for repurchase within `days` (DESIGN.md)."""
    tx = _rows(
        raw["transactions"].filter(
            (pl.col("merchant_id") == m)
            & (pl.col("status") != "failed")
            & (pl.col("ts") >= s)
            & (pl.col("ts") < e)
        )
    )
    times: dict[int, list[datetime]] = defaultdict(list)
    for r in tx:
        times[r["user_id"]].append(r["ts"])
    cohort = again = 0
    for ts in times.values():
        ts.sort()
        first = ts[0]
        if first <= e - timedelta(days=days):
            cohort += 1
            if any(t <= first + timedelta(days=days) for t in ts[1:]):
                again += 1
    return cohort, again


def entry_mix(raw: dict[str, pl.DataFrame], m: int, s: datetime, e: datetime) -> dict[str, tuple]:
    out: dict[str, tuple[int, Decimal]] = {}
    for r in _rows(
        raw["transactions"].filter(
            (pl.col("merchant_id") == m)
            & (pl.col("status") != "failed")
            & (pl.col("ts") >= s)
            & (pl.col("ts") < e)
        )
    ):
        n, g = out.get(r["entry"], (0, Decimal(0)))
        out[r["entry"]] = (n + 1, g + r["amount"])
    return out


def trend(
    raw: dict[str, pl.DataFrame], m: int, s: datetime, e: datetime, ps: datetime, step: int
) -> tuple[list[Decimal], list[Decimal]]:
    n = -(-int((e - s).total_seconds()) // step)
    cur, prev = [Decimal(0)] * n, [Decimal(0)] * n
    for r in _rows(
        raw["transactions"].filter(
            (pl.col("merchant_id") == m)
            & (pl.col("status") != "failed")
            & (pl.col("ts") >= ps)
            & (pl.col("ts") < e)
        )
    ):
        if r["ts"] >= s:
            cur[int((r["ts"] - s).total_seconds() // step)] += r["amount"]
        else:
            prev[int((r["ts"] - ps).total_seconds() // step)] += r["amount"]
    return cur, prev


def pay_score(raw: dict[str, pl.DataFrame], m: int, s: datetime, e: datetime) -> dict[str, Any]:
    rows = _rows(raw["payscore_orders"].filter(pl.col("merchant_id") == m))
    created = [r for r in rows if s <= r["ts"] < e]
    done = [
        r
        for r in rows
        if r["state"] == "done" and r["completed_at"] is not None and s <= r["completed_at"] < e
    ]

    def paid_within(r: dict[str, Any], days: int) -> bool:
        return r["paid_at"] is not None and r["paid_at"] < r["completed_at"] + timedelta(days=days)

    return {
        "orders": len(created),
        **{
            st: sum(1 for r in created if r["state"] == st)
            for st in ("created", "doing", "done", "revoked", "expired")
        },
        "deposit_waived": sum((r["deposit_waived"] for r in created), Decimal(0)),
        "completed": len(done),
        "paid_d0": sum(1 for r in done if paid_within(r, 1)),
        "paid_d7": sum(1 for r in done if paid_within(r, 7)),
        "paid_d30": sum(1 for r in done if paid_within(r, 30)),
        "collected_amount": sum(
            (r["amount"] for r in done if r["paid_at"] is not None and r["paid_at"] < e), Decimal(0)
        ),
        "completed_amount": sum((r["amount"] for r in done), Decimal(0)),
    }


def groups(raw: dict[str, pl.DataFrame], m: int, s: datetime, e: datetime) -> dict[str, Any]:
    gs = _rows(raw["groups"].filter((pl.col("merchant_id") == m) & (pl.col("kind") == "customer")))
    ids = {g["group_id"] for g in gs}
    msgs = _rows(raw["wecom_messages"].filter((pl.col("ts") >= s) & (pl.col("ts") < e)))
    active = {r["group_id"] for r in msgs if r["group_id"] in ids}
    moves = _rows(raw["group_members"].filter((pl.col("ts") >= s) & (pl.col("ts") < e)))
    return {
        "groups": len(gs),
        "members": sum(g["member_count"] for g in gs),
        "at_cap": sum(1 for g in gs if g["member_count"] >= 500),
        "active": len(active),
        "joins": sum(1 for r in moves if r["group_id"] in ids and r["action"] == "join"),
        "leaves": sum(1 for r in moves if r["group_id"] in ids and r["action"] == "leave"),
    }


def lives(raw: dict[str, pl.DataFrame], m: int, s: datetime, e: datetime) -> dict[int, dict]:
    out = {}
    for lv in _rows(raw["live_sessions"].filter(pl.col("merchant_id") == m)):
        if lv["started_at"] < e and (lv["ended_at"] is None or lv["ended_at"] >= s):
            out[lv["live_id"]] = {"viewers": set(), "views": 0, "orders": 0, "gmv": Decimal(0)}
    for v in _rows(raw["channel_views"].filter((pl.col("ts") >= s) & (pl.col("ts") < e))):
        if v["live_id"] in out:
            out[v["live_id"]]["viewers"].add(v["user_id"])
            out[v["live_id"]]["views"] += 1
    for t in _rows(
        raw["transactions"].filter(
            (pl.col("merchant_id") == m)
            & (pl.col("status") != "failed")
            & (pl.col("ts") >= s)
            & (pl.col("ts") < e)
        )
    ):
        if t["live_id"] in out:
            out[t["live_id"]]["orders"] += 1
            out[t["live_id"]]["gmv"] += t["amount"]
    return out


def merchant_list(
    raw: dict[str, pl.DataFrame], s: datetime, e: datetime, ps: datetime
) -> dict[int, dict[str, Any]]:
    """Per merchant: orders, gmv, prev_gmv, refund_rate, member_share, repurchase_rate (Polars)."""
    tx = raw["transactions"].filter(
        (pl.col("status") != "failed") & (pl.col("ts") >= ps) & (pl.col("ts") < e)
    )
    since = (
        raw["memberships"]
        .group_by("merchant_id", "user_id")
        .agg(pl.col("enrolled_at").min().alias("since"))
    )
    tx = tx.join(since, on=["merchant_id", "user_id"], how="left").with_columns(
        (pl.col("ts") >= s).alias("cur"),
        (pl.col("since").is_not_null() & (pl.col("since") <= pl.col("ts"))).alias("member"),
    )
    cur = tx.filter(pl.col("cur"))
    agg = cur.group_by("merchant_id").agg(
        pl.len().alias("orders"),
        pl.col("amount").sum().alias("gmv"),
        pl.col("amount").filter(pl.col("status") == "refunded").sum().alias("refunded"),
        pl.col("amount").filter(pl.col("member")).sum().alias("member_gmv"),
    )
    prev = (
        tx.filter(~pl.col("cur"))
        .group_by("merchant_id")
        .agg(pl.col("amount").sum().alias("prev_gmv"))
    )
    rep = (
        cur.group_by("merchant_id", "user_id")
        .agg(pl.len().alias("n"))
        .group_by("merchant_id")
        .agg(pl.len().alias("payers"), (pl.col("n") >= 2).sum().alias("repeat"))
    )
    out: dict[int, dict[str, Any]] = {
        r["merchant_id"]: {"orders": 0, "gmv": Decimal(0), "prev_gmv": Decimal(0)}
        for r in _rows(raw["merchants"].select("merchant_id"))
    }
    for r in _rows(agg):
        gmv = r["gmv"]
        out[r["merchant_id"]].update(
            orders=r["orders"],
            gmv=gmv,
            refund_rate=float(r["refunded"] or 0) / float(gmv) if gmv else None,
            member_share=float(r["member_gmv"] or 0) / float(gmv) if gmv else None,
        )
    for r in _rows(prev):
        out[r["merchant_id"]]["prev_gmv"] = r["prev_gmv"]
    for r in _rows(rep):
        out[r["merchant_id"]]["repurchase_rate"] = r["repeat"] / r["payers"]
    return out
