"""The queries layer through its public face: every named query, every headline measure checked by
hand on a tiny file and against an independent Polars computation over the raw tables on a
synthetic one, the dashboard data API (trends, pillar views, latest event)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from test_queries_data import AS_OF, TINY_1H, load_raw, reference, synthetic_db, tiny_db

from ecotop import queries, store
from ecotop.queries.measures import BY_ID, MEASURES, PILLARS
from ecotop.queries.views import (
    PILLAR_VIEWS,
    TREND_SPEC,
    buckets_for,
    latest_event,
    pillar_view,
    trends,
)

ROOT = Path(__file__).resolve().parent.parent
SYN_END = datetime(2026, 11, 20, 3, 37, 20, tzinfo=UTC)  # not on an hour: windows have ragged edges
PUBLIC_KEYS = (
    "messaging.dau",
    "messaging.video_call_users",
    "messaging.moments_viewers",
    "messaging.moments_posters",
    "official_accounts.readers",
    "mini_programs.users",
    "mini_programs.gmv",
    "pay.transactions",
    "pay.gmv",
    "pay.success_rate",
    "pay.refund_rate",
    "pay_score.orders",
    "pay_score.bad_debt_rate",
    "wecom.customer_groups",
    "channels.views",
    "channels.live_gmv",
)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Any:
    path = tiny_db(tmp_path_factory.mktemp("tiny") / "tiny.duckdb")
    db = store.open_db(path)
    yield db
    db.close()


@pytest.fixture(scope="module")
def syn(tmp_path_factory: pytest.TempPathFactory) -> Any:
    path = synthetic_db(
        tmp_path_factory.mktemp("syn") / "syn.duckdb", 0.004, end=SYN_END, memory_limit="1GB"
    )
    db = store.open_db(path)
    yield db
    db.close()


@pytest.fixture(scope="module")
def syn_raw(syn: Any) -> dict[str, pl.DataFrame]:
    return load_raw(syn.cursor())


def _same(got: Any, want: Any, *, rel: float = 1e-9, money: bool = False) -> bool:
    if want is None or got is None:
        return got is None and want is None
    g, w = float(got), float(want)
    if money:  # DECIMAL rounded to cents by the query
        return abs(g - w) <= 0.0051 + 1e-9 * abs(w)
    return abs(g - w) <= rel * max(1.0, abs(w))


# The catalogue ------------------------------------------------------------------------------------


def test_catalogue_has_every_public_key_and_short_labels() -> None:
    ids = [m.id for m in MEASURES]
    assert len(ids) == len(set(ids))
    assert set(PUBLIC_KEYS) <= set(ids)
    assert {m.pillar for m in MEASURES} == set(PILLARS)
    for m in MEASURES:
        assert len(m.label) <= 14, m.id
        assert m.good in ("up", "down", None), m.id
        assert m.kind in ("count", "money", "rate", "ratio", "number"), m.id
        assert (m.column is not None) + (m.flag is not None) + (m.derive is not None) == 1, m.id
    assert BY_ID["pay.refund_rate"].good == "down"
    assert BY_ID["pay_score.bad_debt_rate"].good == "down"


def test_every_sql_file_starts_with_its_documentation() -> None:
    files = sorted((ROOT / "queries").rglob("*.sql"))
    assert len(files) >= 30
    for f in files:
        first = f.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("-- ") and len(first) > 20, f
    names = set(queries.registry())
    for pillar in PILLARS:
        assert f"{pillar}/headline" in names
        assert f"{pillar}/series" in names


def test_no_value_is_formatted_into_sql() -> None:
    for q in queries.registry().values():
        assert "{" not in q.sql.replace("{'", ""), q.name  # no str.format placeholders
        if q.pillar in PILLARS or q.pillar in ("users", "overview"):
            assert q.params, q.name  # windowed: every value is a $parameter


# Headlines by hand --------------------------------------------------------------------------------


def test_tiny_headlines_worked_out_by_hand(tiny: Any) -> None:
    ks = queries.kpis(tiny.cursor(), "1h")
    assert ks.as_of == AS_OF
    assert ks.window.start == AS_OF - timedelta(hours=1)
    assert set(TINY_1H) == {m.id for m in MEASURES}  # a new measure needs its hand-made value
    for mid, (value, previous) in TINY_1H.items():
        m = ks.get(mid)
        money = m.definition.kind == "money"
        assert _same(m.value, value, money=money), (mid, m.value, value)
        assert _same(m.previous, previous, money=money), (mid, m.previous, previous)
        assert not m.approx
        if money and m.value is not None:
            assert isinstance(m.value, Decimal), mid


def test_reference_agrees_with_the_hand_made_values(tiny: Any) -> None:
    raw = load_raw(tiny.cursor())
    ref_c = reference(raw, AS_OF - timedelta(hours=1), AS_OF)
    ref_p = reference(raw, AS_OF - timedelta(hours=2), AS_OF - timedelta(hours=1))
    for mid, (value, previous) in TINY_1H.items():
        money = BY_ID[mid].kind == "money"
        assert _same(ref_c[mid], value, money=money), (mid, ref_c[mid], value)
        want_p = previous if previous is not None else None
        if want_p is not None or ref_p[mid] is not None:
            assert _same(ref_p[mid], want_p, money=money), (mid, ref_p[mid], want_p)


def test_change_is_percent_for_counts_and_points_for_rates(tiny: Any) -> None:
    ks = queries.kpis(tiny.cursor(), "1h")
    assert ks.get("pay.transactions").change == pytest.approx(200.0)  # 3 against 1
    assert ks.get("pay.success_rate").change == pytest.approx(-25.0)  # 75% against 100%: -25pp
    assert ks.get("mini_programs.aov").change is None  # no previous orders
    assert ks.get("messaging.video_call_users").change is None  # previous 0


def test_previous_is_none_without_data_before_the_window(tmp_path: Path) -> None:
    db = store.open_db(tiny_db(tmp_path / "fresh.duckdb", fresh_only=True))
    try:
        ks = queries.kpis(db.cursor(), "1h")
    finally:
        db.close()
    assert ks.as_of == AS_OF
    assert all(m.previous is None for ms in ks.pillars.values() for m in ms.values())
    assert ks.get("pay.gmv").value == Decimal("70.50")


def test_an_empty_file_gives_zeros_and_no_previous(tmp_path: Path) -> None:
    db = store.create_db(tmp_path / "empty.duckdb")
    now = datetime(2026, 11, 20, 4, 0, 30, tzinfo=UTC)
    ks = queries.kpis(db.cursor(), "24h", now=now)
    assert ks.as_of == datetime(2026, 11, 20, 4, 1, tzinfo=UTC)
    assert ks.get("pay.gmv").value == 0 and ks.get("pay.gmv").previous is None
    assert ks.get("pay.success_rate").value is None
    assert latest_event(db.cursor()) is None
    db.close()


def test_live_as_of_is_the_minute_after_the_wall_clock(tiny: Any) -> None:
    now = datetime(2026, 11, 20, 5, 12, 40, tzinfo=UTC)
    ks = queries.kpis(tiny.cursor(), "15m", live=True, now=now)
    assert ks.as_of == datetime(2026, 11, 20, 5, 13, tzinfo=UTC) and ks.live
    assert ks.get("pay.transactions").value == 0  # stale: nothing in the last 15 minutes


# Headlines against Polars ------------------------------------------------------------------------


def _check_against_polars(
    cur: Any, raw: dict[str, pl.DataFrame], range_key: str, as_of: datetime | None = None
) -> queries.KpiSet:
    ks = queries.kpis(cur, range_key, as_of=as_of)
    w = ks.window
    assert w.end - w.start == queries.RANGES[range_key]
    ref = {
        "c": reference(raw, w.start, w.end),
        "p": reference(raw, w.prev_start, w.prev_end),
    }
    exact = w.exact_users
    checked = 0
    for m in MEASURES:
        got = ks.get(m.id)
        assert got.approx == (m.users and not exact), m.id
        for which, value in (("c", got.value), ("p", got.previous)):
            want = ref[which][m.id]
            if m.users and not exact:
                assert want is not None and value is not None, m.id
                assert abs(float(value) - float(want)) <= 0.02 * abs(float(want)), (m.id, which)
            else:
                assert _same(value, want, money=m.kind == "money"), (m.id, which, value, want)
            checked += 1
    assert checked == 2 * len(MEASURES)
    # the data is not trivial: the window holds payments and sessions
    assert ks.get("pay.transactions").value > 0 and ks.get("messaging.dau").value > 0
    return ks


@pytest.mark.slow
@pytest.mark.parametrize("shift", [timedelta(0), -timedelta(days=3, minutes=17)])
@pytest.mark.parametrize("range_key", list(queries.RANGES))
def test_headlines_match_an_independent_polars_computation(
    syn: Any, syn_raw: dict[str, pl.DataFrame], range_key: str, shift: timedelta
) -> None:
    cur = syn.cursor()
    as_of = queries.resolve_as_of(cur) + shift if shift else None
    ks = _check_against_polars(cur, syn_raw, range_key, as_of)
    if range_key in ("24h", "7d", "30d"):
        assert ks.get("pay_score.collection_rate_d7").value is not None


@pytest.fixture(scope="module")
def sample(small_db: Path) -> Any:
    db = store.open_db(small_db)
    yield db
    db.close()


@pytest.mark.parametrize("range_key", list(queries.RANGES))
def test_headlines_match_polars_on_the_generated_sample(sample: Any, range_key: str) -> None:
    cur = sample.cursor()
    ks = _check_against_polars(cur, load_raw(cur), range_key)
    newest = latest_event(cur)
    assert ks.as_of == newest.replace(second=0, microsecond=0) + timedelta(minutes=1)
    assert ks.as_of <= datetime(2026, 11, 20, 4, 0, tzinfo=UTC)  # the sample ends at 12:00 +08:00


# Every named query --------------------------------------------------------------------------------


def _documented_columns(q: queries.Query) -> set[str] | None:
    """The columns a query's leading comment lists (`--   name[, name]  description` lines)."""
    if "ecotop.store.rollups.FLAGS" in q.doc:
        from ecotop.store.rollups import FLAGS

        return {"win", *FLAGS}
    cols: set[str] = set()
    for line in q.sql.splitlines():
        if not line.startswith("--"):
            break
        m = re.match(r"--   (\S.*?)(?:\s{2,}|$)", re.sub(r"\s*\([^)]*\)", "", line))
        if not m:
            continue
        names = [n.strip() for n in m.group(1).split(",")]
        if all(re.fullmatch(r"[a-z_][a-z0-9_]*", n) for n in names if n):
            cols.update(n for n in names if n)
    if "win = 'c'" in q.doc:
        cols.add("win")
    return cols or None


def _params(w: queries.Window) -> dict[str, Any]:
    return {**w.params(), "n": 10, "mod": 1, "tz": "Asia/Shanghai"}


OWN = set(PILLARS) | {"users", "overview"}


@pytest.mark.slow
@pytest.mark.parametrize("range_key", ["15m", "24h", "30d"])
def test_every_named_query_runs_and_returns_its_documented_columns(
    syn: Any, range_key: str
) -> None:
    _run_every_query(syn.cursor(), range_key)


@pytest.mark.parametrize("range_key", ["1h", "7d"])
def test_every_named_query_runs_on_the_generated_sample(sample: Any, range_key: str) -> None:
    _run_every_query(sample.cursor(), range_key)


def _run_every_query(cur: Any, range_key: str) -> None:
    w = queries.window(range_key, queries.resolve_as_of(cur))
    params = _params(w)
    ran = 0
    for name, q in sorted(queries.registry().items()):
        if q.pillar not in OWN:  # other layers' queries (merchant drill-down) are tested there
            continue
        assert q.params <= params.keys(), name
        table = q.run(cur, **params)
        documented = _documented_columns(q)
        assert documented is not None, name
        assert set(table.column_names) == documented, (name, set(table.column_names) ^ documented)
        ran += 1
    assert ran >= 33


# Dashboard data -----------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("range_key", list(queries.RANGES))
def test_series_and_trends_add_up_to_the_headlines(syn: Any, range_key: str) -> None:
    cur = syn.cursor()
    ks = queries.kpis(cur, range_key)
    w = ks.window
    n = buckets_for(w)
    assert n == (15 if range_key == "15m" else 30)
    tr = trends(cur, w)
    assert set(tr) == set(TREND_SPEC) and set(TREND_SPEC) <= set(BY_ID)
    assert set(queries.TREND_PROXIES) <= set(TREND_SPEC)
    assert all(len(v) == n for v in tr.values())
    for mid in ("pay.gmv", "pay.transactions", "mini_programs.visits", "channels.views"):
        assert sum(tr[mid]) == pytest.approx(float(ks.get(mid).value), abs=0.01), mid
    assert sum(tr["messaging.dau"]) >= ks.get("messaging.dau").value  # sessions >= active users
    assert tr["wecom.customer_groups"][-1] == ks.get("wecom.customer_groups").value
    assert max(tr["channels.peak_viewers"]) == ks.get("channels.peak_viewers").value
    pay = queries.get("pay/series").run(cur, s=w.start, e=w.end, n=n).to_pydict()
    assert pay["bucket"][0] == w.start
    assert all(
        (b - w.start) % timedelta(minutes=1) == timedelta(0) for b in pay["bucket"]
    )  # minute-aligned
    assert sum(pay["gmv"]) == ks.get("pay.gmv").value
    msg = queries.get("messaging/series").run(cur, s=w.start, e=w.end, n=n).to_pydict()
    assert sum(msg["video_call_minutes"]) == pytest.approx(
        ks.get("messaging.video_call_minutes").value
    )


@pytest.mark.parametrize("range_key", ["1h", "7d"])
def test_pillar_views_have_stable_keys_and_agree_with_the_headlines(
    syn: Any, syn_raw: dict[str, pl.DataFrame], range_key: str
) -> None:
    cur = syn.cursor()
    ks = queries.kpis(cur, range_key)
    w = ks.window
    views = {p: pillar_view(cur, p, w, top=5) for p in PILLARS}
    for p, v in views.items():
        assert set(v.breakdowns) == set(PILLAR_VIEWS[p]["breakdowns"]), p
        assert set(v.tops) == set(PILLAR_VIEWS[p]["tops"]), p
        assert v.series.num_rows == buckets_for(w)
        assert all(t.num_rows <= 5 for t in v.tops.values()), p
        v.to_dict()

    def total(p: str, key: str, col: str) -> float:
        return float(sum(views[p].breakdowns[key].column(col).to_pylist()))

    assert total("pay", "by_entry", "gmv") == pytest.approx(float(ks.get("pay.gmv").value))
    assert total("pay", "by_industry", "gmv") == pytest.approx(float(ks.get("pay.gmv").value))
    assert total("mini_programs", "by_category", "gmv") == pytest.approx(
        float(ks.get("mini_programs.gmv").value)
    )
    assert total("mini_programs", "by_category", "visits") == ks.get("mini_programs.visits").value
    assert total("pay_score", "by_state", "orders") == ks.get("pay_score.orders").value
    assert total("pay_score", "by_scenario", "orders") == ks.get("pay_score.orders").value
    assert (
        total("official_accounts", "follows_by_source", "follows")
        == ks.get("official_accounts.new_followers").value
    )
    assert total("channels", "by_kind", "views") == ks.get("channels.views").value
    assert total("wecom", "group_sizes", "groups") == ks.get("wecom.customer_groups").value
    assert views["wecom"].breakdowns["group_sizes"].num_rows == 11
    assert total("messaging", "heatmap", "sessions") == sum(
        queries.get("messaging/headline").run(cur, **w.params()).column("sessions").to_pylist()[:1]
    )

    # the top merchant and its GMV, by Polars
    tx = syn_raw["transactions"].filter(
        (pl.col("ts") >= w.start) & (pl.col("ts") < w.end) & (pl.col("status") != "failed")
    )
    best = (
        tx.group_by("merchant_id")
        .agg(pl.col("amount").sum().alias("gmv"))
        .sort(["gmv", "merchant_id"], descending=[True, False])
        .row(0, named=True)
    )
    top = views["pay"].tops["merchants"].to_pylist()[0]
    assert top["merchant_id"] == best["merchant_id"]
    assert float(top["gmv"]) == pytest.approx(best["gmv"], abs=0.01)
    reads = syn_raw["oa_reads"].filter((pl.col("ts") >= w.start) & (pl.col("ts") < w.end))
    most = reads.group_by("account_id").len().sort(["len", "account_id"], descending=[True, False])
    top_oa = views["official_accounts"].tops["accounts"].to_pylist()[0]
    assert (top_oa["account_id"], top_oa["reads"]) == most.row(0)


def test_pillar_view_rejects_an_unknown_pillar(tiny: Any) -> None:
    w = queries.window("1h", AS_OF)
    with pytest.raises(KeyError, match="no pillar"):
        pillar_view(tiny.cursor(), "fax", w)


def test_latest_event_is_the_newest_raw_time(syn: Any, syn_raw: dict[str, pl.DataFrame]) -> None:
    newest = max(
        syn_raw[t][c].max()
        for t, c in (
            ("app_sessions", "ts"),
            ("transactions", "ts"),
            ("channel_views", "ts"),
            ("oa_reads", "ts"),
            ("mp_visits", "ts"),
        )
    )
    got = latest_event(syn.cursor())
    assert got == newest
    assert queries.resolve_as_of(syn.cursor()) == got.replace(second=0, microsecond=0) + timedelta(
        minutes=1
    )


@pytest.mark.parametrize("range_key", list(queries.RANGES))
def test_each_pillar_headline_query_agrees_with_kpis(syn: Any, range_key: str) -> None:
    """kpis() reads two combined queries; each <pillar>/headline computes the same on its own."""
    from ecotop.queries.kpis import fast_headline_values, headline_values

    cur = syn.cursor()
    w = queries.window(range_key, queries.resolve_as_of(cur) - timedelta(hours=5, minutes=3))
    fast, slow = fast_headline_values(cur, w), headline_values(cur, w)
    for which in ("c", "p"):
        assert set(fast[which]) <= set(slow[which])
        for key, value in fast[which].items():
            other = slow[which][key]
            if isinstance(value, Decimal):  # ratios of money may round a half cent either way
                assert abs(value - other) <= Decimal("0.01"), (which, key, value, other)
            else:
                assert _same(value, other), (which, key, value, other)


@pytest.mark.parametrize("shift", [timedelta(0), -timedelta(days=2, hours=7, minutes=13)])
@pytest.mark.parametrize("range_key", ["7d", "30d"])
def test_the_day_sample_gives_the_same_users_as_hours_alone(
    syn: Any, range_key: str, shift: timedelta
) -> None:
    cur = syn.cursor()
    w = queries.window(range_key, queries.resolve_as_of(cur) + shift)
    days = queries.get("users/active_approx").rows(cur, mod=1, **w.params())
    hours = queries.get("users/active_approx_hourly").rows(cur, mod=1, **w.params())
    assert days == hours and len(days) == 2 and days[0]["active"] > 0
    assert queries.file_info(cur).has_day_sample
