"""Alert rules on small files built to trip, and not to trip, each default rule."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import alert_data as ad
import pytest

from ecotop.queries import alerts
from ecotop.queries.alerts import (
    AlertResult,
    Rule,
    RuleError,
    State,
    default_rules,
    evaluate,
    evaluation,
)
from ecotop.queries.measures import BY_ID


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    """build(name, **kwargs) -> (db, cursor), made once per module per name; closed at the end."""
    made = {}

    def _build(name: str, **kwargs):
        if name not in made:
            path = ad.build(tmp_path_factory.mktemp("alerts") / f"{name}.duckdb", **kwargs)
            made[name] = ad.cursor(path)
        return made[name][1]

    yield _build
    for db, cur in made.values():
        cur.close()
        db.close()


def by_rule(results: list[AlertResult], name: str) -> AlertResult:
    (r,) = [x for x in results if x.rule.name == name]
    return r


def of(results: list[AlertResult], rule: str, measure: str) -> AlertResult:
    (r,) = [x for x in results if x.rule.name == rule and x.measure == measure]
    return r


def rules(*names: str) -> list[Rule]:
    return [r for r in default_rules() if r.name in names]


# --- the rules themselves ---------------------------------------------------------------------------


def test_default_rules_cover_the_issue() -> None:
    d = {r.name: r for r in default_rules()}
    assert set(d) == {
        "pay_success_rate",
        "pay_refund_rate",
        "mp_refund_rate",
        "payscore_bad_debt_rate",
        "stale",
        "week_over_week",
    }
    assert (d["pay_success_rate"].condition, d["pay_success_rate"].critical) == ("below", 0.99)
    assert d["stale"].critical == 300
    assert (d["week_over_week"].measure, d["week_over_week"].critical) == ("*", 50)
    for r in d.values():
        assert r.measure in ("stale", "*") or r.measure in BY_ID


@pytest.mark.parametrize(
    ("kwargs", "key", "match"),
    [
        ({"measure": "pay.nope"}, "measure", "unknown measure"),
        ({"condition": "near"}, "condition", "condition must be"),
        ({"window": "2h"}, "window", "window must be"),
        ({"warning": None, "critical": None}, None, "needs a warning or a critical"),
        ({"warning": 0.98}, "critical", "must be below or equal"),
        ({"min_volume": -1}, "min_volume", ">= 0"),
        ({"measure": "*"}, "condition", "only takes condition 'change'"),
    ],
)
def test_rule_validation(kwargs, key, match) -> None:
    base = {
        "name": "r",
        "measure": "pay.success_rate",
        "condition": "below",
        "warning": 0.995,
        "critical": 0.99,
    }
    with pytest.raises(RuleError, match=match) as err:
        Rule(**{**base, **kwargs})
    assert err.value.key == key


def test_rule_from_table_reads_percentages_and_durations() -> None:
    base = {r.name: r for r in default_rules()}
    r, on = rule_from = alerts.rule_from_table(
        "pay_success_rate", {"warning": "99.8%", "critical": "99.5%"}, base["pay_success_rate"]
    )
    assert (
        rule_from and on and (r.warning, r.critical) == (pytest.approx(0.998), pytest.approx(0.995))
    )
    r, _ = alerts.rule_from_table("stale", {"warning": "90s", "critical": "2h"}, base["stale"])
    assert (r.warning, r.critical) == (90, 7200)
    r, _ = alerts.rule_from_table(
        "swing", {"measure": "pay.gmv", "condition": "change", "warning": "20%", "critical": 40}
    )
    assert (r.warning, r.critical, r.window, r.min_volume) == (20, 40, "15m", 0)
    r, on = alerts.rule_from_table("stale", {"enabled": False}, base["stale"])
    assert on is False and r == base["stale"]


def test_worst_and_by_measure() -> None:
    assert alerts.worst([]) == State.OK
    assert alerts.worst([State.OK, State.UNKNOWN]) == State.UNKNOWN
    assert alerts.worst([State.UNKNOWN, State.WARNING]) == State.WARNING
    assert alerts.worst([State.WARNING, State.CRITICAL, State.UNKNOWN]) == State.CRITICAL
    r = default_rules()[0]
    a = AlertResult(r, State.OK, "pay.gmv", 1, None, "a")
    b = AlertResult(r, State.CRITICAL, "pay.gmv", 1, None, "b")
    assert alerts.by_measure([a, b])["pay.gmv"] is b
    assert [int(s) for s in State] == [0, 1, 2, 3]


def test_values_are_formatted_in_their_unit() -> None:
    rate, money = BY_ID["pay.success_rate"], BY_ID["pay.gmv"]
    assert alerts.fmt_value(rate, 0.99512) == "99.51%"
    assert alerts.fmt_value(rate, 0.99996) == "99.99%"  # never 100% unless it is
    assert alerts.fmt_value(rate, 1.0) == "100.00%"
    assert alerts.fmt_value(money, Decimal("1234.5")) == "CNY 1,234.50"
    assert alerts.fmt_duration(432) == "7m 12s"


# --- evaluated on data ------------------------------------------------------------------------------


def test_healthy_data_is_ok(build) -> None:
    cur = build("healthy")
    results = evaluate(cur, default_rules())
    assert alerts.worst(results) == State.OK, [r.line() for r in results if r.state]
    psr = by_rule(results, "pay_success_rate")
    assert 0.995 < psr.value < 1
    assert psr.line().startswith("OK pay.success_rate ")
    assert psr.line().endswith("(limit 99.30%)")
    assert by_rule(results, "stale").message == "not judged: the data is not live"


@pytest.mark.slow
def test_success_rate_below_limit_is_critical_then_warning(build) -> None:
    cur = build(
        "fail4pct", now=[ad.Pay(fail_every=25), ad.Pay(entry="mini_program", fail_every=25)]
    )
    r = by_rule(evaluate(cur, rules("pay_success_rate")), "pay_success_rate")
    assert r.state == State.CRITICAL
    assert r.value == pytest.approx(0.96, abs=0.002)
    assert r.threshold == 0.99
    assert r.line() == "CRITICAL pay.success_rate 96.00% (critical 99.00%)"

    # 0.95% failures: between the warning (99.3%) and critical (99%) floors, with enough volume
    # (30,000 payments in 15 minutes) to be sure of it.
    busy = {"per_min": 1000, "fail_every": 105, "minutes": 20}
    cur = build("fail095pct", now=[ad.Pay(**busy), ad.Pay(entry="mini_program", **busy)])
    r = by_rule(evaluate(cur, rules("pay_success_rate")), "pay_success_rate")
    assert r.state == State.WARNING and r.threshold == 0.993
    assert r.line() == "WARNING pay.success_rate 99.05% (warning 99.30%)"


def test_one_failure_among_few_payments_is_noise(build) -> None:
    cur = build("quiet", now=[ad.Pay(per_min=2, fail_every=30)])
    r = by_rule(evaluate(cur, rules("pay_success_rate")), "pay_success_rate")
    assert r.state == State.OK
    assert r.value == pytest.approx(29 / 30)
    assert r.message == "96.67% (limit 99.30%; past 99.00% within the noise of 29 transactions)"
    # Judged on the value alone (confidence 0) the same window is critical.
    plain = Rule("plain", "pay.success_rate", "below", critical=0.99, confidence=0)
    assert evaluate(cur, [plain])[0].state == State.CRITICAL


def test_an_outage_at_low_volume_is_critical(build) -> None:
    cur = build("outage", now=[ad.Pay(per_min=1, fail_every=2)])
    r = by_rule(evaluate(cur, rules("pay_success_rate")), "pay_success_rate")
    assert r.state == State.CRITICAL
    assert r.value == pytest.approx(0.5, abs=0.04)


def test_a_volume_floor_holds_a_rule_back(build) -> None:
    cur = build("outage", now=[ad.Pay(per_min=1, fail_every=2)])
    floor = Rule("floor", "pay.success_rate", "below", critical=0.99, min_volume=100)
    r = evaluate(cur, [floor])[0]
    assert r.state == State.OK
    assert r.message.endswith("not judged: 8 transactions in 15m (< 100)")


def test_binomial_tail() -> None:
    from math import comb

    def exact(n: int, p: float, k: int) -> float:
        return sum(comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1))

    for n, p, k in [(36, 0.007, 3), (36, 0.05, 7), (200, 0.03, 14), (900, 0.01, 18), (1, 0.01, 1)]:
        assert alerts.binomial_tail(n, p, k) == pytest.approx(exact(n, p, k), rel=1e-9)
    assert alerts.binomial_tail(10, 0.1, 0) == 1.0
    assert alerts.binomial_tail(10, 0.1, 11) == 0.0
    assert alerts.binomial_tail(10, 0.0, 1) == 0.0
    assert 2.7e-4 < alerts.binomial_tail(1e7, 0.3, 3e6 + 5000) < 2.9e-4  # normal, 3.45 sd


def _busy(**kw) -> list[ad.Pay]:
    return [ad.Pay(per_min=200, **kw), ad.Pay(entry="mini_program", per_min=200, **kw)]


@pytest.mark.slow
def test_refund_rate_high_is_warning_then_critical(build) -> None:
    names = ("pay_refund_rate", "mp_refund_rate")
    res = evaluate(build("refund8", now=_busy(refund_every=12)), rules(*names))
    assert [by_rule(res, n).state for n in names] == [State.WARNING, State.WARNING]
    assert by_rule(res, "pay_refund_rate").value == pytest.approx(1 / 12, abs=0.005)

    res = evaluate(build("refund17", now=_busy(refund_every=6)), rules(*names))
    assert [by_rule(res, n).state for n in names] == [State.CRITICAL, State.CRITICAL]
    assert re.fullmatch(
        r"CRITICAL mini_programs\.refund_rate 16\.\d\d% \(critical 12\.00%\)",
        by_rule(res, "mp_refund_rate").line(),
    )


@pytest.mark.slow
def test_payscore_bad_debt_rate(build) -> None:
    cur = build("baddebt10", payscore={"unpaid_every": 10, "every_min": 1})
    r = by_rule(evaluate(cur, rules("payscore_bad_debt_rate")), "payscore_bad_debt_rate")
    assert r.state == State.CRITICAL and r.value == pytest.approx(0.10, abs=0.01)
    cur = build("baddebt5", payscore={"unpaid_every": 21, "every_min": 1})
    r = by_rule(evaluate(cur, rules("payscore_bad_debt_rate")), "payscore_bad_debt_rate")
    assert r.state == State.WARNING and r.value == pytest.approx(1 / 21, abs=0.005)


def test_stale_live_data_is_critical(build) -> None:
    cur = build("healthy")
    stale = rules("stale")
    r = by_rule(evaluate(cur, stale, live=True, now=ad.END + timedelta(minutes=10)), "stale")
    assert r.state == State.CRITICAL
    assert r.value == pytest.approx(600)
    assert r.line() == "CRITICAL stale no new data for 10m (critical 5m)"
    r = by_rule(evaluate(cur, stale, live=True, now=ad.END + timedelta(minutes=2)), "stale")
    assert r.state == State.OK and r.message == "newest data 2m ago (limit 5m)"
    r = by_rule(evaluate(cur, stale, live=False, now=ad.END + timedelta(days=3)), "stale")
    assert r.state == State.OK  # a static file is as of its newest data


@pytest.mark.slow
def test_week_over_week_jump_fires_with_enough_volume(build) -> None:
    cur = build(
        "wow_up",
        now=[
            ad.Pay(per_min=60, fail_every=0),
            ad.Pay(entry="mini_program", per_min=60, fail_every=0),
        ],
        week_ago=[
            ad.Pay(per_min=30, fail_every=0),
            ad.Pay(entry="mini_program", per_min=30, fail_every=0),
        ],
    )
    res = evaluate(cur, rules("week_over_week"))
    tx = of(res, "week_over_week", "pay.transactions")
    assert tx.state == State.CRITICAL
    assert tx.change == pytest.approx(100.0)
    assert (tx.value, tx.reference, tx.volume, tx.reference_volume) == (1800, 900, 1800, 900)
    assert (
        tx.line() == "CRITICAL pay.transactions 1,800 +100.0% vs 900 a week earlier (critical ±50%)"
    )
    assert of(res, "week_over_week", "mini_programs.gmv").state == State.CRITICAL
    # A rate is compared on the count of its rarer outcome: no failure at all is nothing to compare.
    psr = of(res, "week_over_week", "pay.success_rate")
    assert psr.state == State.OK and psr.change is None
    assert "the rate rests on 0 of 1,800 transactions now, 0 of 900 a week earlier" in psr.message
    # Refund rates are left out: their newest windows are immature (refunds arrive later).
    assert not [r for r in res if r.measure.endswith("refund_rate")]

    cur = build(
        "wow_down",
        now=[ad.Pay(per_min=20)],
        week_ago=[ad.Pay(per_min=60)],
    )
    tx = of(evaluate(cur, rules("week_over_week")), "week_over_week", "pay.transactions")
    assert tx.state == State.CRITICAL and tx.change == pytest.approx(-66.67, abs=0.01)


def test_week_over_week_jump_with_too_little_volume_is_ok(build) -> None:
    cur = build(
        "wow_small",
        now=[ad.Pay(per_min=4)],
        week_ago=[ad.Pay(per_min=1)],
    )
    res = evaluate(cur, rules("week_over_week"))
    tx = of(res, "week_over_week", "pay.transactions")
    assert tx.state == State.OK
    assert tx.change is None
    assert "not compared: 60 transactions now, 15 a week earlier (< 200)" in tx.message
    assert alerts.worst(res) == State.OK
    # With the volume limit lowered the same +300% fires: it was the volume that held it back.
    low = Rule("wow", "*", "change", warning=30, critical=50, min_volume=10)
    tx = of(evaluate(cur, [low]), "wow", "pay.transactions")
    assert tx.state == State.CRITICAL and tx.change == pytest.approx(300)


def test_no_week_earlier_data_is_not_compared(build) -> None:
    cur = build("healthy")
    res = evaluate(cur, rules("week_over_week"))
    assert {r.state for r in res} == {State.OK}
    assert all(r.change is None for r in res)


def test_empty_window_is_unknown(build) -> None:
    cur = build("healthy")
    later = ad.END + timedelta(days=2)
    res = evaluate(cur, rules("pay_success_rate", "pay_refund_rate"), as_of=later)
    assert [r.state for r in res] == [State.UNKNOWN, State.UNKNOWN]
    assert res[0].line() == "UNKNOWN pay.success_rate no data in the last 15m"
    assert alerts.worst(res) == State.UNKNOWN


def test_each_window_is_computed_once(build, monkeypatch) -> None:
    cur = build("healthy")
    calls = []
    real = evaluation.kpis

    def counting(cur, window, **kw):
        calls.append((window, kw["as_of"]))
        return real(cur, window, **kw)

    monkeypatch.setattr(evaluation, "kpis", counting)
    extra = Rule("gmv_high", "pay.gmv", "above", critical=10**9, window="15m")
    evaluate(cur, [*default_rules(), extra])
    assert sorted(calls) == sorted(
        [
            ("15m", ad.END),
            ("24h", ad.END),
            ("15m", ad.END - timedelta(days=7)),
        ]
    )


@pytest.mark.slow
def test_rate_rests_on_its_rarer_outcome(build) -> None:
    # Refunds 1 in 12 (8.3%) now against 1 in 50 (2%) a week earlier, on 24,000 payments an hour:
    # a refund rate rests on the refunds, counted four times fewer for their lumpy amounts.
    cur = build(
        "wow_rate",
        now=_busy(refund_every=12, fail_every=0),
        week_ago=_busy(refund_every=50, fail_every=0),
    )
    swing = Rule(
        "refund_swing", "pay.refund_rate", "change", critical=50, window="1h", min_volume=200
    )
    r = evaluate(cur, [swing])[0]
    assert r.state == State.OK and r.change is None
    assert r.message.endswith(
        "not compared: the rate rests on 500 of 24,000 transactions now, 120 of 24,000 a week "
        "earlier (< 200)"
    )
    lower = Rule(
        "refund_swing", "pay.refund_rate", "change", critical=50, window="1h", min_volume=100
    )
    r = evaluate(cur, [lower])[0]
    assert r.state == State.CRITICAL and r.change == pytest.approx(316.7, abs=2)
    assert (r.volume, r.reference_volume) == (24000, 24000)


def test_windows_without_user_measures_skip_the_user_query(build, monkeypatch) -> None:
    cur = build("healthy")
    real = evaluation.kpis
    seen = []

    def kpis_with_users_flag(cur, window, *, as_of=None, live=False, now=None, users=True):
        seen.append((window, users))
        return real(cur, window, as_of=as_of, live=live, now=now, users=users)

    monkeypatch.setattr(evaluation, "kpis", kpis_with_users_flag)
    evaluate(cur, default_rules())
    assert sorted(set(seen)) == [("15m", True), ("24h", False)]


def test_results_serialise(build) -> None:
    import json

    cur = build("healthy")
    res = evaluate(cur, default_rules())
    data = json.loads(json.dumps([r.to_dict() for r in res]))
    psr = next(d for d in data if d["rule"] == "pay_success_rate")
    assert psr["state"] == "OK" and psr["window"] == "15m" and psr["critical"] == 0.99
    assert isinstance(psr["value"], float)


# --- on the generated sample data -------------------------------------------------------------------


@pytest.mark.slow
def test_generated_data_is_healthy_in_every_sampled_window(small_db, small_db_end) -> None:
    """The defaults stay OK on the sample data: at its end and every 7 hours over the last 3 days
    (days and nights, weekday and weekend, each window a week earlier compared)."""
    db, cur = ad.cursor(small_db)
    try:
        end = small_db_end
        for k in range(11):
            as_of = end - timedelta(hours=7 * k)
            res = evaluate(cur, default_rules(), as_of=as_of)
            bad = [r.line() for r in res if r.state != State.OK]
            assert not bad, (as_of, bad)
            compared = [r for r in res if r.rule.name == "week_over_week" and r.change is not None]
            if k == 0:  # at noon the week-over-week rule has volume enough to compare something
                assert compared
    finally:
        cur.close()
        db.close()


def test_failures_appended_to_generated_data_trip_the_rule(
    small_db, small_db_end, tmp_path
) -> None:
    """Copy the sample file, append a burst of failed payments (rollups kept current the way
    ingestion keeps them), and the success rate rule goes critical."""
    import shutil

    from ecotop.store import open_db, rollups

    path = tmp_path / "burst.duckdb"
    shutil.copy(small_db, path)
    db = open_db(path, write=True)
    con = db.con
    con.execute(
        """
        CREATE TEMP TABLE burst AS
        SELECT 900000000 + i AS tx_id, $end - to_microseconds((10 + i % 540) * 1000000)::INTERVAL AS ts,
               i AS user_id, (SELECT min(merchant_id) FROM merchants) AS merchant_id,
               20.00::DECIMAL(18, 2) AS amount, 'qr' AS entry, 'failed' AS status,
               NULL::TIMESTAMPTZ AS refunded_at, NULL::BIGINT AS live_id
        FROM range(60) t(i)
        """,
        {"end": small_db_end},
    )
    con.execute("BEGIN")
    con.execute("INSERT INTO transactions SELECT * FROM burst")
    rollups.apply(con, {"transactions": "burst"})
    con.execute("COMMIT")
    db.close()

    results = []
    for p in (small_db, path):
        db, cur = ad.cursor(p)
        try:
            results.append(by_rule(evaluate(cur, rules("pay_success_rate")), "pay_success_rate"))
        finally:
            cur.close()
            db.close()
    before, r = results
    assert before.state == State.OK
    assert r.state == State.CRITICAL, r.line()
    assert r.value < before.value - 0.05
