"""ecotop.sample_data.generate and `ecotop generate`: the file it makes, determinism, pure ids, rollups that
agree with the raw rows, and the command line's paths."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ecotop import store
from ecotop.sample_data import generate
from ecotop.store.ingest import RAW_TABLES
from ecotop.tui.cli import main

EVENT_TABLES = {
    "app_sessions": "ts",
    "oa_reads": "ts",
    "mp_visits": "ts",
    "transactions": "ts",
    "channel_views": "ts",
    "payscore_orders": "ts",
    "oa_follows": "ts",
    "wecom_contacts": "ts",
    "group_members": "ts",
    "wecom_messages": "ts",
    "memberships": "enrolled_at",
}


def q(db: store.Database, sql: str, params: dict[str, Any] | None = None) -> list[tuple]:
    cur = db.cursor()
    try:
        return cur.execute(sql, params or {}).fetchall()
    finally:
        cur.close()


@pytest.fixture(scope="module")
def db(small_db: Path):
    d = store.open_db(small_db)
    yield d
    d.close()


def test_meta_and_every_raw_table_filled(db: store.Database, small_db_end: datetime) -> None:
    meta = db.meta()
    assert meta["generated"] == "true"
    assert meta["scale"] == "0.01" and meta["seed"] == "7" and meta["days"] == "60"
    assert datetime.fromisoformat(meta["generated_until"]) == small_db_end
    assert meta["display_zone"] == "Asia/Shanghai"
    assert meta["sample_mod"] == "1"  # 10,000 users: every user is in the sample
    assert meta["schema_version"] == str(store.SCHEMA_VERSION)
    for t in RAW_TABLES:
        assert q(db, f"SELECT count(*) FROM {t}")[0][0] > 0, t
    assert q(db, "SELECT count(*), min(user_id), max(user_id) FROM users")[0] == (10_000, 1, 10_000)
    assert q(db, "SELECT count(*), min(merchant_id), max(merchant_id) FROM merchants")[0] == (
        1000,
        1,
        1000,
    )
    # ids dense from 1
    for t, col in (
        ("transactions", "tx_id"),
        ("payscore_orders", "order_id"),
        ("official_accounts", "account_id"),
        ("mini_programs", "mp_id"),
        ("wecom_enterprises", "corp_id"),
        ("channels", "channel_id"),
        ("groups", "group_id"),
    ):
        n, lo, hi = q(db, f"SELECT count(*), min({col}), max({col}) FROM {t}")[0]
        assert (lo, hi) == (1, n), t


def test_primary_keys_are_back(db: store.Database) -> None:
    keys = dict(
        q(
            db,
            "SELECT table_name, constraint_column_names FROM duckdb_constraints() "
            "WHERE constraint_type = 'PRIMARY KEY'",
        )
    )
    for t, col in (
        ("transactions", ["tx_id"]),
        ("users", ["user_id"]),
        ("payscore_orders", ["order_id"]),
        ("groups", ["group_id"]),
    ):
        assert keys[t] == col


def test_events_lie_in_the_history_and_are_time_ordered(
    db: store.Database, small_db_end: datetime
) -> None:
    lo, hi = small_db_end - timedelta(days=60), small_db_end
    for t, col in EVENT_TABLES.items():
        mn, mx = q(db, f"SELECT min({col}), max({col}) FROM {t}")[0]
        assert mn >= lo and mx < hi, t
        # inserted in time order (zone maps): 95% of 2048-row blocks span little more than the
        # time 2048 rows take to arrive
        n = q(db, f"SELECT count(*) FROM {t}")[0][0]
        span = q(
            db,
            f"SELECT quantile_disc(span, 0.95) FROM (SELECT max({col}) - min({col}) AS span "
            f"FROM {t} GROUP BY rowid // 2048)",
        )[0][0]
        assert span < timedelta(days=60) * min(1.0, 3 * 2048 / n) + timedelta(hours=1), t


def test_names_are_chinese_and_latin(db: store.Database) -> None:
    cn, latin = q(
        db,
        "SELECT count(*) FILTER (WHERE regexp_matches(name, '[\\x{4e00}-\\x{9fff}]+·.+店$')), "
        "count(*) FILTER (WHERE regexp_matches(name, '^[A-Za-z]+ [A-Za-z]+ [A-Za-z ]+$')) "
        "FROM merchants",
    )[0]
    assert cn > 500 and latin > 200


def test_every_reference_resolves(db: store.Database) -> None:
    checks = {
        "transactions.merchant": "SELECT count(*) FROM transactions ANTI JOIN merchants USING (merchant_id)",
        "transactions.user": "SELECT count(*) FROM transactions ANTI JOIN users USING (user_id)",
        "mp_visits.mp": "SELECT count(*) FROM mp_visits v ANTI JOIN mini_programs p ON p.mp_id = v.mp_id AND p.merchant_id = v.merchant_id",
        "oa_reads.article": "SELECT count(*) FROM oa_reads r ANTI JOIN oa_articles a ON a.article_id = r.article_id AND a.account_id = r.account_id",
        "oa_reads.published": "SELECT count(*) FROM oa_reads r JOIN oa_articles a USING (article_id) WHERE a.published_at > r.ts",
        "views.post": "SELECT count(*) FROM channel_views v ANTI JOIN channel_posts p ON p.post_id = v.post_id AND p.channel_id = v.channel_id WHERE v.post_id IS NOT NULL",
        "views.live": "SELECT count(*) FROM channel_views v ANTI JOIN live_sessions l ON l.live_id = v.live_id AND l.channel_id = v.channel_id WHERE v.live_id IS NOT NULL",
        "tx.live": "SELECT count(*) FROM transactions t ANTI JOIN live_sessions l ON l.live_id = t.live_id AND l.merchant_id = t.merchant_id WHERE t.entry = 'channels_live'",
        "tx.live_only_live": "SELECT count(*) FROM transactions WHERE (entry = 'channels_live') <> (live_id IS NOT NULL)",
        "members.tx": "SELECT count(*) FROM memberships m ANTI JOIN transactions t ON t.tx_id = m.tx_id AND t.merchant_id = m.merchant_id AND t.user_id = m.user_id AND t.status <> 'failed' WHERE m.channel = 'pay_after'",
        "members.tx_only_pay_after": "SELECT count(*) FROM memberships WHERE (channel = 'pay_after') <> (tx_id IS NOT NULL)",
        "members.once": "SELECT count(*) - count(DISTINCT (merchant_id, user_id)) FROM memberships",
        "groups.customer": "SELECT count(*) FROM group_members m ANTI JOIN groups g ON g.group_id = m.group_id AND g.kind = 'customer'",
        "contacts.corp": "SELECT count(*) FROM wecom_contacts c ANTI JOIN wecom_enterprises e ON e.corp_id = c.corp_id AND e.merchant_id = c.merchant_id",
        "refund.after": "SELECT count(*) FROM transactions WHERE (status = 'refunded') <> (refunded_at IS NOT NULL) OR refunded_at < ts",
        "ps.paid_after_done": "SELECT count(*) FROM payscore_orders WHERE paid_at < completed_at OR (paid_at IS NOT NULL AND completed_at IS NULL)",
    }
    for name, sql in checks.items():
        assert q(db, sql)[0][0] == 0, name


@pytest.mark.slow
def test_rollups_equal_an_independent_group_by(db: store.Database) -> None:
    rows = q(
        db,
        """SELECT r.entry, r.gmv, x.gmv, r.n, x.n FROM
           (SELECT dim AS entry, sum(value) FILTER (WHERE measure = 'pay.gmv') AS gmv,
                   sum(value) FILTER (WHERE measure = 'pay.attempts') AS n
            FROM rollup_window(TIMESTAMPTZ '2020-01-01', TIMESTAMPTZ '2030-01-01') GROUP BY dim
            HAVING gmv IS NOT NULL) r
           JOIN (SELECT entry, sum(amount) FILTER (WHERE status <> 'failed') AS gmv, count(*) AS n
                 FROM transactions GROUP BY entry) x USING (entry)""",
    )
    assert len(rows) == 5
    for entry, a, b, n1, n2 in rows:
        assert a == b and n1 == n2, entry
    pairs = {
        "msg.sessions": "SELECT count(*) FROM app_sessions",
        "oa.reads": "SELECT count(*) FROM oa_reads",
        "mp.visits": "SELECT count(*) FROM mp_visits",
        "ch.views": "SELECT count(*) FROM channel_views",
        "ps.orders": "SELECT count(*) FROM payscore_orders",
        "wc.group_joins": "SELECT count(*) FROM group_members WHERE action = 'join'",
        "mp.gmv": "SELECT sum(amount) FROM transactions WHERE entry = 'mini_program' AND status <> 'failed'",
    }
    for measure, sql in pairs.items():
        rolled = q(db, "SELECT sum(value) FROM rollup_minute WHERE measure = $m", {"m": measure})
        hourly = q(db, "SELECT sum(value) FROM rollup_hour WHERE measure = $m", {"m": measure})
        assert rolled[0][0] == q(db, sql)[0][0] == hourly[0][0], measure
    # a ragged window: rollup_window against the raw rows
    s, e = datetime(2026, 11, 10, 3, 17, tzinfo=UTC), datetime(2026, 11, 12, 15, 41, tzinfo=UTC)
    w = q(
        db,
        "SELECT sum(value) FROM rollup_window($s, $e) WHERE measure = 'pay.gmv'",
        {"s": s, "e": e},
    )[0][0]
    raw = q(
        db,
        "SELECT sum(amount) FROM transactions WHERE status <> 'failed' AND ts >= $s AND ts < $e",
        {"s": s, "e": e},
    )[0][0]
    assert w == raw


def _fingerprint(path: Path) -> dict[str, tuple]:
    with store.open_db(path) as d:
        return {
            t: q(d, f"SELECT count(*), sum(hash(x)::HUGEINT) FROM {t} x")[0] for t in RAW_TABLES
        }


@pytest.mark.slow
def test_same_scale_seed_end_give_identical_data(tmp_path: Path) -> None:
    end = datetime(2026, 3, 4, 5, 6, tzinfo=UTC)
    a = generate(tmp_path / "a.duckdb", scale=0.003, seed=3, days=2, end=end)
    b = generate(tmp_path / "b.duckdb", scale=0.003, seed=3, days=2, end=end)
    generate(tmp_path / "c.duckdb", scale=0.003, seed=4, days=2, end=end)
    assert a["rows"] == b["rows"]
    fa, fb, fc = (_fingerprint(tmp_path / f"{n}.duckdb") for n in "abc")
    assert fa == fb
    assert fa["transactions"] != fc["transactions"]
    assert fa["merchants"] != fc["merchants"]


@pytest.mark.slow
def test_ids_are_a_pure_function_of_scale_and_seed(tmp_path: Path) -> None:
    """Dimension ids (and what they name) do not depend on the history's end or length."""
    generate(
        tmp_path / "a.duckdb", scale=0.003, seed=5, days=1, end=datetime(2026, 1, 10, tzinfo=UTC)
    )
    generate(
        tmp_path / "b.duckdb",
        scale=0.003,
        seed=5,
        days=3,
        end=datetime(2026, 7, 1, 8, 30, tzinfo=UTC),
    )
    dims = {
        "merchants": "merchant_id, name, industry, city, size_weight",
        "official_accounts": "account_id, merchant_id, name",
        "mini_programs": "mp_id, merchant_id, name, category",
        "wecom_enterprises": "corp_id, merchant_id, name, staff",
        "channels": "channel_id, merchant_id, name, followers",
        "groups": "group_id, kind, merchant_id",
        "users": "user_id, city, province",
    }
    with store.open_db(tmp_path / "a.duckdb") as a, store.open_db(tmp_path / "b.duckdb") as b:
        for t, cols in dims.items():
            sql = f"SELECT {cols} FROM {t} ORDER BY 1"
            assert q(a, sql) == q(b, sql), t


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    with pytest.raises(store.StoreError):
        generate(tmp_path / "x.duckdb", scale=0)
    with pytest.raises(store.StoreError):
        generate(tmp_path / "x.duckdb", scale=0.01, days=0)
    (tmp_path / "exists.duckdb").write_bytes(b"")
    with pytest.raises(store.errors.Exists):
        generate(tmp_path / "exists.duckdb", scale=0.003, days=1)
    assert (tmp_path / "exists.duckdb").read_bytes() == b""


def test_progress_is_reported(tmp_path: Path) -> None:
    seen: list[tuple[str, float]] = []
    generate(tmp_path / "p.duckdb", scale=0.003, days=1, progress=lambda s, f: seen.append((s, f)))
    fractions = [f for _, f in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and seen[-1][0] == "done"
    assert {"transactions", "rollups"} <= {s for s, _ in seen}


# --- the command line ---------------------------------------------------------------------------


def run(*args: str) -> Any:
    return CliRunner().invoke(main, ["generate", *args])


def test_cli_generates_and_summarises(tmp_path: Path) -> None:
    out = tmp_path / "g.duckdb"
    r = run(
        "--scale",
        "0.003",
        "--out",
        str(out),
        "--days",
        "1",
        "--seed",
        "2",
        "--end",
        "2026-05-01T08:00",
    )
    assert r.exit_code == 0, r.output
    assert "rows in" in r.stderr and r.stdout == ""
    with store.open_db(out) as d:
        meta = d.meta()
    # a naive --end is read in the display zone (Asia/Shanghai): 00:00 UTC
    assert datetime.fromisoformat(meta["generated_until"]) == datetime(2026, 5, 1, 0, 0, tzinfo=UTC)
    assert meta["seed"] == "2" and meta["days"] == "1"


def test_cli_end_with_offset(tmp_path: Path) -> None:
    out = tmp_path / "o.duckdb"
    r = run("--scale", "0.003", "--out", str(out), "--days", "1", "--end", "2026-05-01T08:00:30Z")
    assert r.exit_code == 0, r.output
    with store.open_db(out) as d:
        until = datetime.fromisoformat(d.meta()["generated_until"])
    assert until == datetime(2026, 5, 1, 8, 0, tzinfo=UTC)  # truncated to the minute


def test_cli_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    out = tmp_path / "e.duckdb"
    out.write_text("precious")
    r = run("--scale", "0.003", "--out", str(out), "--days", "1")
    assert r.exit_code == 1
    assert "already exists" in r.stderr and "--force" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert out.read_text() == "precious"
    r = run("--scale", "0.003", "--out", str(out), "--days", "1", "--force")
    assert r.exit_code == 0, r.output
    with store.open_db(out) as d:
        assert d.generated


@pytest.mark.parametrize(
    "args",
    [
        ["--scale", "0"],
        ["--scale", "-1"],
        ["--scale", "abc"],
        ["--scale", "nan"],
        ["--scale", "0.01", "--days", "0"],
        ["--scale", "0.01", "--end", "yesterday"],
        ["--scale", "0.01", "--zone", "Mars/Olympus"],
        [],
    ],
)
def test_cli_usage_errors_exit_2(tmp_path: Path, args: list[str]) -> None:
    out = tmp_path / "u.duckdb"
    r = run(*args, "--out", str(out))
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    assert not out.exists()


def test_cli_missing_directory_exits_1(tmp_path: Path) -> None:
    r = run("--scale", "0.01", "--out", str(tmp_path / "nope" / "x.duckdb"))
    assert r.exit_code == 1
    assert "no such directory" in r.stderr


# -- memory and half-written files ------------------------------------------------------------------


def _generate_cmd(out: Path, *extra: str) -> list[str]:
    import sys

    return [sys.executable, "-m", "ecotop.tui.cli", "generate", "--out", str(out), *extra]


@pytest.mark.slow
def test_memory_limit_is_honoured_and_a_failure_is_one_line(tmp_path: Path) -> None:
    """ECOTOP_MEMORY_LIMIT reaches the generator: far too little ends in one line, exit 1, and no
    file (not a traceback after a half-written file); enough spills and succeeds."""
    import os
    import subprocess

    env = dict(os.environ)
    out = tmp_path / "tiny.duckdb"
    env["ECOTOP_MEMORY_LIMIT"] = "4MB"
    run_ = subprocess.run(
        _generate_cmd(out, "--scale", "0.02", "--days", "2"),
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert run_.returncode == 1, run_.stderr
    assert "Traceback" not in run_.stderr and len(run_.stderr.strip().splitlines()) == 1
    assert "ECOTOP_MEMORY_LIMIT" in run_.stderr and "4MB" in run_.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    env["ECOTOP_MEMORY_LIMIT"] = "64MB"
    ok = subprocess.run(
        _generate_cmd(out, "--scale", "0.02", "--days", "2"),
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.duckdb"]


@pytest.mark.slow
def test_a_killed_generate_leaves_no_file_under_its_name(tmp_path: Path) -> None:
    import signal
    import subprocess
    import time

    out = tmp_path / "killed.duckdb"
    proc = subprocess.Popen(
        _generate_cmd(out, "--scale", "0.05", "--days", "5"),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not any(tmp_path.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert not out.exists()
    assert all(p.name.startswith(".") for p in tmp_path.iterdir())  # at most a dotted work dir
