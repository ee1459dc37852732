"""The merchant drill-down's numbers, checked against an independent computation over the raw tables
(tests/merchant_reference.py: Polars and plain Python, never the rollups or the merchant SQL), on the
generated sample for a large, a small and an inactive merchant and on a tiny hand-made file."""

from __future__ import annotations

from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import merchant_data
import merchant_reference as ref
import pyarrow as pa
import pytest

from ecotop.queries import merchant as M
from ecotop.queries.windows import Window, window
from ecotop.store import open_db

END = merchant_data.END
CENT = Decimal("0.01")


@pytest.fixture(scope="module")
def gen_path(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return merchant_data.generated(request, tmp_path_factory)


@pytest.fixture(scope="module")
def gen(gen_path: Path):
    db = open_db(gen_path)
    cur = db.cursor()
    raw = ref.load(cur)
    yield cur, raw
    db.close()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory):
    path = merchant_data.build_tiny(tmp_path_factory.mktemp("tiny") / "tiny.duckdb")
    db = open_db(path)
    cur = db.cursor()
    yield cur, ref.load(cur)
    db.close()


def _picks(cur, s, e) -> dict[str, int]:
    """The largest merchant, a small active one and one without activity in [s, e) (the least active
    one when every merchant sold something)."""
    rows = cur.sql(
        """SELECT m.merchant_id, count(t.ts) AS n FROM merchants m
           LEFT JOIN transactions t ON t.merchant_id = m.merchant_id AND t.ts >= $s AND t.ts < $e
           GROUP BY 1 ORDER BY n DESC, 1""",
        params={"s": s, "e": e},
    ).fetchall()
    active = [r for r in rows if r[1] > 0]
    inactive = [r for r in rows if r[1] == 0]
    assert active
    quiet = ("inactive", inactive[0][0]) if inactive else ("least", active[-1][0])
    return {"large": active[0][0], "small": active[len(active) * 3 // 4][0], quiet[0]: quiet[1]}


WINDOWS = [
    ("1h", END),
    ("24h", END - timedelta(minutes=37)),  # not hour-aligned: exercises every rollup tier
    ("7d", END - timedelta(hours=5, minutes=11)),
    ("30d", END),
]


@pytest.mark.parametrize(("range_key", "as_of"), WINDOWS)
def test_detail_matches_the_raw_tables(gen, range_key, as_of) -> None:
    cur, raw = gen
    win = window(range_key, as_of)
    for kind, mid in _picks(cur, win.start, win.end).items():
        d = M.merchant_detail(cur, mid, win)
        label = f"{range_key} {kind} merchant {mid}"
        # the funnel, step by step
        expected = ref.funnel(raw, mid, win.start, win.end)
        got = [(s["step"], s["customers"], s["base"], s["converted"]) for s in d["funnel"]]
        want = [(s["step"], s["customers"], s["base"], s["converted"]) for s in expected]
        assert got == want, label
        for s, w in zip(d["funnel"], expected, strict=True):
            assert s["conversion"] == pytest.approx(w["conversion"]), label
            assert s["conversion"] is None or 0 <= s["conversion"] <= 1
        # payment measures, current and previous
        for which, (s, e) in (
            ("value", (win.start, win.end)),
            ("previous", (win.prev_start, win.prev_end)),
        ):
            p = ref.pay(raw, mid, s, e)
            ms = d["measures"]
            if which == "previous" and p["attempts"] == 0:
                assert ms["gmv"]["previous"] is None, label
                continue
            assert ms["gmv"][which] == p["gmv"], label
            assert ms["orders"][which] == p["orders"], label
            assert ms["payers"][which] == p["payers"], label
            assert ms["new_payers"][which] == p["new_payers"], label
            assert ms["returning_payers"][which] == p["returning_payers"], label
            aov = (
                None if not p["orders"] else (p["gmv"] / p["orders"]).quantize(CENT, ROUND_HALF_UP)
            )
            assert ms["aov"][which] == aov, label
            assert ms["refund_rate"][which] == _rate(p["refunded"], p["gmv"]), label
            assert ms["member_share"][which] == _rate(p["member_gmv"], p["gmv"]), label
            assert ms["pay_to_member"][which] == _rate(p["pay_after"], p["first_nonmember"]), label
            assert ms["repeat_rate"][which] == _rate(p["repeat_payers"], p["payers"]), label
        # repurchase within 30/90 days: no cohort in ranges of 30 days or less
        for n in (30, 90):
            cohort, again = ref.repurchase(raw, mid, win.start, win.end, n)
            assert (d["repurchase"][f"cohort_{n}"], d["repurchase"][f"repurchased_{n}"]) == (
                cohort,
                again,
            )
        # entry mix, trend, Pay Score, groups, lives
        mix = ref.entry_mix(raw, mid, win.start, win.end)
        for e in d["entry_mix"]:
            assert (e["orders"], e["gmv"]) == mix.get(e["entry"], (0, Decimal(0))), label
        assert {e["entry"] for e in d["entry_mix"]} >= set(M.ENTRIES)
        cur_t, prev_t = ref.trend(
            raw, mid, win.start, win.end, win.prev_start, d["trend"]["bucket_s"]
        )
        assert d["trend"]["current"] == cur_t, label
        if d["trend"]["previous"] is not None:
            assert d["trend"]["previous"] == prev_t, label
        ps = ref.pay_score(raw, mid, win.start, win.end)
        for k, v in ps.items():
            assert d["pay_score"][k] == v, f"{label} pay_score.{k}"
        g = ref.groups(raw, mid, win.start, win.end)
        for k, v in g.items():
            assert d["groups"][k] == v, f"{label} groups.{k}"
        lv = ref.lives(raw, mid, win.start, win.end)
        assert {x["live_id"] for x in d["lives"]["top"]} <= set(lv)
        assert d["lives"]["lives"] == len(lv)
        for x in d["lives"]["top"]:
            w = lv[x["live_id"]]
            assert (x["viewers"], x["views"], x["orders"], x["gmv"]) == (
                len(w["viewers"]),
                w["views"],
                w["orders"],
                w["gmv"],
            ), label
        if kind == "inactive":
            assert all(s["customers"] == 0 for s in d["funnel"][2:4])
            assert d["measures"]["gmv"]["value"] == 0
            assert d["measures"]["aov"]["value"] is None


def test_repurchase_cohorts_in_a_long_window(gen) -> None:
    """A window longer than 30 days has a 30-day cohort (ranges of the screen never do)."""
    cur, raw = gen
    start = END - timedelta(days=59)
    win = Window("59d", start, END, start - timedelta(days=59), start)
    mid = _picks(cur, win.start, win.end)["large"]
    d = M.merchant_detail(cur, mid, win)
    cohort, again = ref.repurchase(raw, mid, win.start, win.end, 30)
    assert cohort > 0
    assert (d["repurchase"]["cohort_30"], d["repurchase"]["repurchased_30"]) == (cohort, again)
    assert d["measures"]["repurchase_30d"]["value"] == pytest.approx(again / cohort)
    assert d["repurchase"]["cohort_90"] == 0 and d["measures"]["repurchase_90d"]["value"] is None


@pytest.mark.parametrize(("range_key", "as_of"), WINDOWS)
def test_list_matches_the_raw_tables(gen, range_key, as_of) -> None:
    cur, raw = gen
    win = window(range_key, as_of)
    table = M.merchant_list(cur, win, loyalty=True)
    expected = ref.merchant_list(raw, win.start, win.end, win.prev_start)
    assert table.num_rows == len(expected)
    for row in table.to_pylist():
        w = expected[row["merchant_id"]]
        label = f"{range_key} merchant {row['merchant_id']}"
        assert row["orders"] == w["orders"], label
        assert row["gmv"] == w["gmv"], label
        assert row["prev_gmv"] == w["prev_gmv"], label
        if w["gmv"]:
            assert row["aov"] == (w["gmv"] / w["orders"]).quantize(CENT, ROUND_HALF_UP), label
            assert row["refund_rate"] == pytest.approx(w["refund_rate"]), label
            assert row["member_share"] == pytest.approx(w["member_share"]), label
            assert row["repurchase_rate"] == pytest.approx(w["repurchase_rate"]), label
        else:
            assert row["aov"] is None and row["refund_rate"] is None, label
            assert row["repurchase_rate"] is None and row["member_share"] is None, label
        if w["prev_gmv"]:
            assert row["growth"] == pytest.approx(float(w["gmv"]) / float(w["prev_gmv"]) - 1), label
        else:
            assert row["growth"] is None, label


def _rate(a, b):
    return None if not b else float(a) / float(b)


# -- the tiny file: filter, sort, find ---------------------------------------------------------------


def test_tiny_detail_matches_reference(tiny) -> None:
    cur, raw = tiny
    for rk in ("1h", "24h", "7d"):
        win = window(rk, END)
        for mid in (1, 5, 6):
            d = M.merchant_detail(cur, mid, win)
            want = ref.funnel(raw, mid, win.start, win.end)
            assert [(s["customers"], s["converted"]) for s in d["funnel"]] == [
                (s["customers"], s["converted"]) for s in want
            ]
    d = M.merchant_detail(cur, 1, window("24h", END))
    funnel = {s["step"]: s for s in d["funnel"]}
    assert funnel["oa_read"]["customers"] == 2
    assert funnel["live_view"]["customers"] == 2
    assert d["groups"]["groups"] == 2 and d["groups"]["at_cap"] == 1
    assert d["groups"]["active"] == 1 and d["groups"]["active_share"] == 0.5
    assert d["lives"]["lives"] == 1 and d["lives"]["viewers"] == 2


def test_a_merchant_without_activity_shows_zeros(tiny) -> None:
    cur, _ = tiny
    d = M.merchant_detail(cur, 6, window("30d", END))
    assert [s["customers"] for s in d["funnel"]] == [0] * 9
    assert all(s["conversion"] is None for s in d["funnel"])
    ms = d["measures"]
    assert ms["gmv"]["value"] == 0 and ms["orders"]["value"] == 0
    assert ms["aov"]["value"] is None and ms["refund_rate"]["value"] is None
    assert d["trend"]["current"] == [0] * 30
    assert d["groups"]["groups"] == 0 and d["lives"]["lives"] == 0
    assert d["pay_score"]["orders"] == 0
    M.detail_to_json(d)  # serialisable
    row = [r for r in M.merchant_list(cur, window("30d", END)).to_pylist() if r["merchant_id"] == 6]
    assert row[0]["gmv"] == 0 and row[0]["orders"] == 0 and row[0]["growth"] is None


def test_unknown_merchant_raises(tiny) -> None:
    cur, _ = tiny
    with pytest.raises(M.MerchantNotFound):
        M.merchant_detail(cur, 999, window("1h", END))


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("tea", {1, 7}),
        ("TEA", {1, 7}),
        ("%", {2}),
        ("100%", {2}),
        ("_", {2}),
        ("Juice_", {2}),
        ("'", {3, 4, 8}),
        ("o'brien", {3}),
        ("'; DROP TABLE merchants; --", {4}),
        ("DROP", {4}),
        ("饺子", {5}),
        ("黄浦", {5}),
        ("[bold]", {8}),
        ("catering", {1, 3, 5, 7}),
        ("xi'an", {8}),
        ("nothing like this", set()),
        ("", {1, 2, 3, 4, 5, 6, 7, 8}),
        ("  ", {1, 2, 3, 4, 5, 6, 7, 8}),
    ],
)
def test_filter_is_literal_and_case_insensitive(tiny, text, ids) -> None:
    cur, _ = tiny
    table = M.merchant_list(cur, window("24h", END))
    assert set(M.filter_merchants(table, text)["merchant_id"].to_pylist()) == ids
    # the database still has every merchant (the filter never reached SQL)
    assert cur.sql("SELECT count(*) FROM merchants").fetchall()[0][0] == 8


def test_sort_by_every_column_keeps_missing_values_last(tiny) -> None:
    cur, _ = tiny
    table = M.merchant_list(cur, window("24h", END), loyalty=True)
    for column in M.LIST_COLUMNS:
        for desc in (True, False):
            out = M.sort_merchants(table, column, desc).to_pylist()
            values = [r[column] for r in out if r[column] is not None]
            assert values == sorted(values, reverse=desc), column
            nulls = [r[column] is None for r in out]
            assert nulls == sorted(nulls), column  # None only at the end
    with pytest.raises(Exception, match="cannot sort"):
        M.sort_merchants(table, "nope")


def test_filter_and_sort_100k_rows_in_memory_quickly() -> None:
    """The list screen filters 100k merchants per keystroke in memory (timing is a benchmark; this
    only checks the results at that size)."""
    n = 100_000
    names = [f"商户{i}号·{'饺子馆' if i % 7 == 0 else 'shop'}" for i in range(n)]
    table = pa.table(
        {
            "merchant_id": pa.array(range(1, n + 1), pa.int64()),
            "name": names,
            "industry": ["retail"] * n,
            "city": ["Shanghai"] * n,
            "gmv": pa.array([Decimal(i % 1000) for i in range(n)], pa.decimal128(38, 2)),
            "orders": pa.array([i % 50 for i in range(n)], pa.int64()),
            "growth": pa.array([None if i % 3 else 0.1 for i in range(n)], pa.float64()),
            "aov": pa.array([None] * n, pa.decimal128(38, 2)),
            "refund_rate": pa.array([0.01] * n),
            "repurchase_rate": pa.array([None] * n, pa.float64()),
            "member_share": pa.array([None] * n, pa.float64()),
        }
    )
    table = M._with_key(table)
    sorted_ = M.sort_merchants(table, "gmv")
    hits = M.filter_merchants(sorted_, "饺子")
    assert hits.num_rows == len(range(0, n, 7))
    assert hits["gmv"].to_pylist() == sorted(hits["gmv"].to_pylist(), reverse=True)


def test_find_and_resolve(tiny) -> None:
    cur, _ = tiny
    assert M.resolve_merchant(cur, "5")["name"] == "和源饺子馆·黄浦店"
    assert M.resolve_merchant(cur, "tea house")["merchant_id"] == 1  # exact beats "Tea Garden"
    assert M.resolve_merchant(cur, "饺子")["merchant_id"] == 5
    assert M.resolve_merchant(cur, "100%")["merchant_id"] == 2
    with pytest.raises(M.AmbiguousMerchant) as exc:
        M.resolve_merchant(cur, "tea")
    assert {r["merchant_id"] for r in exc.value.matches} == {1, 7}
    with pytest.raises(M.MerchantNotFound):
        M.resolve_merchant(cur, "no such shop")
    with pytest.raises(M.MerchantNotFound):
        M.resolve_merchant(cur, "424242")
    assert M.find_merchants(cur, "%_'") == []
