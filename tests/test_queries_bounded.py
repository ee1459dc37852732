"""The bounded state answers exactly what the raw rows say (#12), for every range and baseline.

Every headline measure is checked against an independent Polars computation over the raw tables
(test_queries_data.reference) and every top-N table against the raw-SQL definition it replaced
(test_queries_data.RAW_TOPS): on a synthetic file, after live ingestion into the current hour
(across a UTC day boundary), and after the refund of an old payment. `as_of` never passes the wall
clock, whatever times the file holds.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pytest
from test_queries_data import RAW_TOPS, load_raw, reference, synthetic_db

from ecotop import queries, store
from ecotop.queries.measures import MEASURES
from ecotop.store import rollups
from ecotop.store.errors import BadInput

# Ends 00:20 UTC, so 15m ends in a fresh day and 1h / 24h cross a day boundary.
END = datetime(2026, 11, 21, 0, 20, tzinfo=UTC)
TOPS = ("mini_programs/top", "official_accounts/top_accounts", "channels/top_channels")
TOPS += ("wecom/top_enterprises", "channels/top_lives")


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthetic_db(tmp_path_factory.mktemp("bounded") / "b.duckdb", 0.003, end=END)


def _same(got: Any, want: Any, money: bool) -> bool:
    if got is None or want is None:
        return got is None and want is None
    tol = 0.0051 if money else 1e-9 * max(1.0, abs(float(want)))
    return abs(float(got) - float(want)) <= tol


def check_kpis(cur: Any, raw: dict[str, pl.DataFrame], range_key: str, baseline: str) -> None:
    """kpis() for range and baseline equals Polars over the raw rows for every measure."""
    ks = queries.kpis(cur, range_key, baseline=baseline)
    w = ks.window
    assert ks.baseline == baseline and ks.to_dict()["baseline"] == baseline
    ref = {"c": reference(raw, w.start, w.end), "p": reference(raw, w.prev_start, w.prev_end)}
    for m in MEASURES:
        got = ks.get(m.id)
        for which, value in (("c", got.value), ("p", got.previous)):
            want = ref[which][m.id]
            if m.users and not w.exact_users:
                assert abs(float(value) - float(want)) <= 0.02 * abs(float(want)), (m.id, which)
            else:
                assert _same(value, want, m.kind == "money"), (m.id, which, value, want)


def check_tops(cur: Any, range_key: str, baseline: str = "previous") -> None:
    """Each bounded top-N table equals its raw-SQL definition, row for row."""
    w = queries.window(range_key, queries.resolve_as_of(cur), baseline)
    params = {**w.params(), "n": 1000}
    for name in TOPS:
        got = queries.get(name).rows(cur, **params)
        q = queries.get(name)
        want_res = cur.execute(RAW_TOPS[name], {k: v for k, v in params.items() if k in q.params})
        cols = [d[0] for d in want_res.description]
        want = [dict(zip(cols, r, strict=True)) for r in want_res.fetchall()]
        assert len(got) == len(want), name
        assert got, name  # the data is not trivial
        for g, r in zip(got, want, strict=True):
            for k, v in r.items():
                if isinstance(v, float) or isinstance(g[k], float):
                    assert _same(g[k], v, False), (name, k, g, r)
                else:
                    assert g[k] == v, (name, k, g, r)


@pytest.mark.parametrize("baseline", ["previous", "day", "week"])
@pytest.mark.parametrize("range_key", list(queries.RANGES))
def test_every_measure_and_baseline_matches_polars(
    base: Path, range_key: str, baseline: str
) -> None:
    with store.open_db(base) as db:
        cur = db.cursor()
        check_kpis(cur, load_raw(cur), range_key, baseline)


def test_baseline_windows_are_the_previous_window_a_day_or_a_week_earlier() -> None:
    end = datetime(2026, 11, 21, 0, 20, tzinfo=UTC)
    w = queries.window("24h", end, "week")
    assert (w.prev_start, w.prev_end) == (w.start - timedelta(days=7), end - timedelta(days=7))
    w = queries.window("30d", end)
    assert (w.prev_start, w.prev_end) == (end - timedelta(days=60), end - timedelta(days=30))
    w = queries.window("1h", end, "day")
    assert w.prev_end == end - timedelta(days=1) and w.baseline == "day"
    with pytest.raises(BadInput, match="previous, day, week"):
        queries.window("1h", end, "month")


@pytest.mark.parametrize("range_key", list(queries.RANGES))
def test_top_tables_match_their_raw_definition(base: Path, range_key: str) -> None:
    with store.open_db(base) as db:
        check_tops(db.cursor(), range_key)


def _batch(cur: Any, start: datetime) -> dict[str, pa.Table]:
    """New events in the minutes from `start` on, by users and merchants already in the file."""
    users = [
        r[0] for r in cur.execute("SELECT user_id FROM users ORDER BY user_id LIMIT 50").fetchall()
    ]
    (mid,) = cur.execute("SELECT min(merchant_id) FROM merchants").fetchall()[0]
    (mp,) = cur.execute("SELECT min(mp_id) FROM mini_programs").fetchall()[0]
    (tx,) = cur.execute("SELECT max(tx_id) + 1 FROM transactions").fetchall()[0]
    ts = [start + timedelta(seconds=17 * i) for i in range(len(users))]
    return {
        "app_sessions": pa.table(
            {
                "ts": ts,
                "user_id": users,
                "opens": [2] * len(users),
                "messages": [3] * len(users),
                "video_call_minutes": [1.5 if i % 3 == 0 else 0.0 for i in range(len(users))],
                "moments_views": [i % 2 for i in range(len(users))],
                "moments_posts": [1 if i % 7 == 0 else 0 for i in range(len(users))],
            }
        ),
        "mp_visits": pa.table(
            {
                "ts": ts,
                "mp_id": [mp] * len(users),
                "merchant_id": [mid] * len(users),
                "user_id": users,
                "pages": [3] * len(users),
                "stay_s": [40] * len(users),
            }
        ),
        "transactions": pa.table(
            {
                "tx_id": list(range(tx, tx + len(users))),
                "ts": ts,
                "user_id": users,
                "merchant_id": [mid] * len(users),
                "amount": pa.array([Decimal("12.34")] * len(users), pa.decimal128(18, 2)),
                "entry": ["mini_program" if i % 2 else "qr" for i in range(len(users))],
                "status": ["failed" if i % 5 == 4 else "success" for i in range(len(users))],
            }
        ),
    }


@pytest.mark.slow
def test_exact_after_live_ingestion_a_refund_and_a_day_boundary(base: Path, tmp_path: Path) -> None:
    path = tmp_path / "live.duckdb"
    shutil.copy(base, path)
    with store.open_db(path, write=True) as db:
        cur = db.cursor()
        # live events in the current hour, the last of them after midnight UTC of a new day
        from ecotop.store.ingest import append

        append(cur, _batch(cur, END - timedelta(minutes=30)))  # 23:50 to 00:04
        append(cur, _batch(cur, END - timedelta(minutes=5)))  # into the next minutes
        # the refund of a payment made days ago, the way ingestion records one
        (tx,) = cur.execute(
            "SELECT min(tx_id) FROM transactions WHERE status = 'success' AND ts < $t",
            {"t": END - timedelta(days=3)},
        ).fetchall()[0]
        cur.execute("BEGIN")
        cur.execute(
            "UPDATE transactions SET status = 'refunded', refunded_at = $t WHERE tx_id = $x",
            {"t": END - timedelta(minutes=2), "x": tx},
        )
        rollups.refunds(cur, f"(SELECT * FROM transactions WHERE tx_id = {int(tx)})")
        cur.execute("COMMIT")
    with store.open_db(path) as db:
        cur = db.cursor()
        raw = load_raw(cur)
        assert queries.resolve_as_of(cur) > END  # the new events moved the window
        for range_key in queries.RANGES:
            check_kpis(cur, raw, range_key, "previous")
            check_tops(cur, range_key)
        check_kpis(cur, raw, "24h", "week")


def test_as_of_is_never_later_than_the_wall_clock(base: Path, tmp_path: Path) -> None:
    path = tmp_path / "future.duckdb"
    shutil.copy(base, path)
    future = datetime.now(UTC) + timedelta(hours=3)
    with store.open_db(path, write=True) as db:
        cur = db.cursor()
        from ecotop.store.ingest import append

        append(cur, _batch(cur, future))
    with store.open_db(path) as db:
        cur = db.cursor()
        before = datetime.now(UTC)
        as_of = queries.resolve_as_of(cur)
        assert as_of is not None and as_of <= queries.windows.live_as_of(datetime.now(UTC))
        assert as_of >= before.replace(second=0, microsecond=0)
        ks = queries.kpis(cur, "15m")
        assert ks.as_of <= queries.windows.live_as_of(datetime.now(UTC))
        latest = queries.latest_event(cur)
        assert latest is not None and latest <= datetime.now(UTC)


@pytest.mark.slow
def test_a_version_2_file_is_refused_read_only_and_migrates_to_the_same_answers(
    base: Path, tmp_path: Path
) -> None:
    """An older file: a read-only open names `ecotop migrate`; after it, the bounded answers equal
    the raw rows (the new state is built from them), and the backup keeps the old file."""
    from ecotop.store import create_db
    from ecotop.store.errors import SchemaTooOld

    with store.open_db(base) as src:
        cur = src.cursor()
        names = cur.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
            "AND table_name NOT LIKE 'rollup_%' AND table_name NOT IN ('ecotop_meta', 'ingest_log')"
        ).fetchall()
        tables = {t: cur.sql(f'SELECT * FROM "{t}"').to_arrow_table() for (t,) in names}
        meta = cur.execute("SELECT * FROM ecotop_meta WHERE key <> 'schema_version'").fetchall()
    old = tmp_path / "v2.duckdb"
    db = create_db(old, version=2)
    con = db.con
    for table, arrow in tables.items():
        con.register("_src", arrow)
        con.execute(f'INSERT INTO "{table}" SELECT * FROM _src')
        con.unregister("_src")
    con.executemany("INSERT OR REPLACE INTO ecotop_meta VALUES (?, ?)", meta)
    rollups.rebuild(con)  # version 2's rollups, as a version-2 build made them
    db.close()
    with pytest.raises(SchemaTooOld, match="ecotop migrate"):
        store.open_db(old)
    before, after, backup = store.migrate(old)
    assert (before, after) == (2, 3) and backup is not None and backup.exists()
    with store.open_db(old) as db:
        cur = db.cursor()
        raw = load_raw(cur)
        for range_key in ("15m", "24h", "30d"):
            check_kpis(cur, raw, range_key, "week")
            check_tops(cur, range_key)
