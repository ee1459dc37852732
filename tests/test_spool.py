"""Spool ingestion: every kind in every format loads exactly once with its rollups; bad files are
rejected with the line and field named; duplicates, temporary files, the feed thread, the WAL bound."""

from __future__ import annotations

import json
import shutil
import threading
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from spool_events import N_MERCHANTS, N_USERS, T0, EventMaker, make_db

from ecotop.sample_data.producer import encode, write_file
from ecotop.store import open_db, rollups
from ecotop.store.errors import BadInput
from ecotop.store.spool import Spool, SpoolFeed
from ecotop.store.spool_format import KINDS

RAW_TABLES = sorted({k.table for k in KINDS.values()})


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("spool_template") / "t.duckdb"
    make_db(path)
    return path


@pytest.fixture
def db_path(template: Path, tmp_path: Path) -> Path:
    path = tmp_path / "t.duckdb"
    shutil.copy(template, path)
    return path


@pytest.fixture
def spool_dir(tmp_path: Path) -> Path:
    d = tmp_path / "spool"
    d.mkdir()
    return d


def counts(con) -> dict[str, int]:
    return {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in RAW_TABLES}


def rollup_state(con) -> dict[str, list]:
    """Every rollup summed per key (deltas merged), zero sums dropped."""
    out = {
        "minute": "SELECT minute, measure, dim, sum(value) v FROM rollup_minute GROUP BY ALL "
        "HAVING v <> 0 ORDER BY ALL",
        "hour": "SELECT hour, measure, dim, sum(value) v FROM rollup_hour GROUP BY ALL "
        "HAVING v <> 0 ORDER BY ALL",
        "active": "SELECT hour, user_id, bit_or(flags) FROM rollup_active_hour_sample GROUP BY ALL "
        "ORDER BY ALL",
    }
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    if "rollup_merchant_hour" in tables:
        out["merchant_hour"] = (
            "SELECT hour, merchant_id, sum(orders), sum(gmv), sum(refunded), sum(member_gmv) "
            "FROM rollup_merchant_hour GROUP BY ALL "
            "HAVING sum(orders) <> 0 OR sum(gmv) <> 0 OR sum(refunded) <> 0 ORDER BY ALL"
        )
    # every tier of the bounded state (schema 3): sums per key, user sets as bit_or per key
    sums = "HAVING sum(value) <> 0 ORDER BY ALL"
    v3 = {
        "rollup_day": f"SELECT day, measure, dim, sum(value) FROM rollup_day GROUP BY ALL {sums}",
        "rollup_entity_hour": "SELECT hour, kind, entity_id, measure, sum(value) "
        f"FROM rollup_entity_hour GROUP BY ALL {sums}",
        "rollup_entity_day": "SELECT day, kind, entity_id, measure, sum(value) "
        f"FROM rollup_entity_day GROUP BY ALL {sums}",
        "rollup_entity_week": "SELECT week, kind, entity_id, measure, sum(value) "
        f"FROM rollup_entity_week GROUP BY ALL {sums}",
        "rollup_user_hour": "SELECT hour, user_id, bit_or(flags), bit_or(minutes) "
        "FROM rollup_user_hour GROUP BY ALL ORDER BY ALL",
        "rollup_user_day": "SELECT day, user_id, bit_or(flags), bit_or(hours) "
        "FROM rollup_user_day GROUP BY ALL ORDER BY ALL",
        "rollup_merchant_day": "SELECT day, merchant_id, sum(orders), sum(gmv), sum(refunded), "
        "sum(member_gmv) FROM rollup_merchant_day GROUP BY ALL "
        "HAVING sum(orders) <> 0 OR sum(gmv) <> 0 OR sum(refunded) <> 0 ORDER BY ALL",
        "rollup_merchant_week": "SELECT week, merchant_id, sum(orders), sum(gmv), sum(refunded), "
        "sum(member_gmv) FROM rollup_merchant_week GROUP BY ALL "
        "HAVING sum(orders) <> 0 OR sum(gmv) <> 0 OR sum(refunded) <> 0 ORDER BY ALL",
        "rollup_merchant_touch": "SELECT * FROM rollup_merchant_touch ORDER BY ALL",
    }
    out.update({k: q for k, q in v3.items() if k in tables})
    return {k: con.execute(q).fetchall() for k, q in out.items()}


def assert_rollups_match_rebuild(con) -> None:
    """Incremental rollups (batch deltas) equal rollups rebuilt from the raw tables."""
    incremental = rollup_state(con)
    con.execute("BEGIN")
    rollups.rebuild(con)
    rebuilt = rollup_state(con)
    con.execute("ROLLBACK")
    for k in incremental:
        assert incremental[k] == rebuilt[k], k


def measure_totals(con) -> dict[tuple[str, str], Decimal]:
    rows = con.execute("SELECT measure, dim, sum(value) FROM rollup_minute GROUP BY ALL").fetchall()
    return {(m, d): v for m, d, v in rows}


def read_events(path: Path) -> pl.DataFrame:
    """A spool file read independently of ecotop (polars), one row per event with its kind."""
    if path.suffix == ".parquet":
        return pl.read_parquet(path)
    if path.suffix == ".csv":
        return pl.read_csv(path, infer_schema=False)
    return pl.read_ndjson(path, infer_schema_length=None)


def batches(n_files: int, per_file: int, seed: int = 1) -> list[dict[str, pa.Table]]:
    mk = EventMaker(seed)
    return [mk.batch(per_file, T0 + timedelta(minutes=2 * i)) for i in range(n_files)]


# -- every kind, every format ----------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["ndjson", "csv", "parquet"])
def test_every_kind_loads_exactly_with_its_rollups(
    fmt: str, db_path: Path, spool_dir: Path
) -> None:
    for b in batches(3, 600):
        write_file(spool_dir, b, fmt)
    db = open_db(db_path, write=True)
    before, totals_before = counts(db.con), measure_totals(db.con)
    spool = Spool(db, spool_dir)
    results = spool.run_once()
    assert [r.outcome for r in results] == ["ingested"] * 3, [r.problems[:3] for r in results]
    assert not list(spool_dir.glob("*." + fmt))
    done = sorted((spool_dir / "done").iterdir())
    assert len(done) == 3
    # Count the files' contents independently, per kind.
    ev = pl.concat([read_events(p).select("kind") for p in done])
    by_kind = dict(ev.group_by("kind").len().iter_rows())
    assert set(by_kind) == set(KINDS)  # every kind is in the files
    after = counts(db.con)
    for table in RAW_TABLES:
        inserted = sum(
            n for k, n in by_kind.items() if KINDS[k].table == table and not KINDS[k].update
        )
        assert after[table] - before[table] == inserted, table
    # Updates landed: every refund refunded a payment, every completion completed an order.
    refunded = db.con.execute(
        "SELECT count(*) FROM transactions WHERE status = 'refunded'"
    ).fetchall()
    assert refunded[0][0] == by_kind["refund"]
    # Rollup totals moved by what the files hold (independent sums over the files).
    frames = [read_events(p) for p in done]
    sessions = pl.concat([f.filter(pl.col("kind") == "session").select("messages") for f in frames])
    tx = pl.concat(
        [f.filter(pl.col("kind") == "transaction").select("amount", "status") for f in frames]
    )
    totals = measure_totals(db.con)

    def delta(measure: str) -> Decimal:
        keys = {k for k in totals if k[0] == measure} | {
            k for k in totals_before if k[0] == measure
        }
        return sum((totals.get(k, 0) - totals_before.get(k, 0) for k in keys), Decimal(0))

    assert delta("msg.sessions") == sessions.height
    assert delta("msg.messages") == sessions["messages"].cast(pl.Int64).sum()
    assert delta("pay.attempts") == tx.height
    paid = tx.filter(pl.col("status") != "failed")["amount"].cast(pl.Float64).sum()
    assert float(delta("pay.gmv")) == pytest.approx(paid)
    assert delta("pay.refunds") == by_kind["refund"]
    assert delta("ps.completed") == by_kind["payscore_complete"]
    assert delta("ps.orders") == by_kind["payscore_order"]
    assert delta("ch.lives") == by_kind["live_session"]
    assert_rollups_match_rebuild(db.con)
    log = db.con.execute(
        "SELECT name, size, rows, outcome FROM ingest_log ORDER BY name"
    ).fetchall()
    assert [(r[0], r[3]) for r in log] == [(p.name, "ingested") for p in done]
    assert [r[1] for r in log] == [p.stat().st_size for p in done]
    assert sum(r[2] for r in log) == ev.height
    spool.close()
    db.close()


def test_single_kind_files_take_the_kind_from_their_name(db_path: Path, spool_dir: Path) -> None:
    b = batches(1, 400)[0]
    old = pc.less_equal  # rows that refer only to entities already in the file
    sessions = b["session"].filter(old(b["session"]["user_id"], N_USERS))
    tx = b["transaction"]
    b["transaction"] = tx.filter(
        pc.and_(old(tx["user_id"], N_USERS), old(tx["merchant_id"], N_MERCHANTS))
    ).filter(
        pc.is_null(
            tx.filter(pc.and_(old(tx["user_id"], N_USERS), old(tx["merchant_id"], N_MERCHANTS)))[
                "live_id"
            ]
        )
    )
    pq.write_table(sessions, spool_dir / "session-0001.parquet")  # no kind column
    import pyarrow.csv as pacsv

    pacsv.write_csv(b["user"], spool_dir / "users-0001.csv")  # a table name works too
    (spool_dir / "transaction-0001.ndjson").write_bytes(
        encode({"transaction": b["transaction"]}, "ndjson")
    )
    db = open_db(db_path, write=True)
    before = counts(db.con)
    spool = Spool(db, spool_dir)
    res = {r.name: r for r in spool.run_once()}
    assert {n: r.outcome for n, r in res.items()} == dict.fromkeys(res, "ingested")
    after = counts(db.con)
    assert after["app_sessions"] - before["app_sessions"] == sessions.num_rows
    assert after["users"] - before["users"] == b["user"].num_rows
    assert after["transactions"] - before["transactions"] == b["transaction"].num_rows
    spool.close()
    db.close()


# -- bad input ---------------------------------------------------------------------------------------


def _lines(kind_rows: dict[str, pa.Table]) -> list[dict]:
    out = []
    for line in encode(kind_rows, "ndjson").decode().splitlines():
        out.append(json.loads(line))
    return out


def _dump(rows: list[dict]) -> bytes:
    return ("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n").encode()


def _good() -> list[dict]:
    return _lines(batches(1, 60, seed=5)[0])


def _find(rows: list[dict], kind: str) -> int:
    return next(i for i, r in enumerate(rows) if r["kind"] == kind)


def _bad_cases() -> list[tuple[str, bytes, int, str, str]]:
    """(file name, bytes, line, field, words in the reason)."""
    cases = []
    rows = _good()
    i = _find(rows, "session")
    r = [dict(x) for x in rows]
    r[i] = '{"kind": "session", "ts": '
    cases.append(("malformed.ndjson", _dump(r), i + 1, "", "malformed JSON"))
    r = [dict(x) for x in rows]
    del r[i]["user_id"]
    cases.append(("missing-field.ndjson", _dump(r), i + 1, "user_id", "missing"))
    r = [dict(x) for x in rows]
    j = _find(r, "transaction")
    r[j]["amount"] = "twelve"
    cases.append(("wrong-type.ndjson", _dump(r), j + 1, "amount", "not an amount"))
    r = [dict(x) for x in rows]
    r[j]["amount"] = "12.345"
    cases.append(("three-decimals.ndjson", _dump(r), j + 1, "amount", "2 decimal places"))
    r = [dict(x) for x in rows]
    r[i]["kind"] = "teleport"
    cases.append(("unknown-kind.ndjson", _dump(r), i + 1, "kind", "unknown event kind"))
    r = [dict(x) for x in rows]
    r[j]["merchant_id"] = 987654
    cases.append(
        ("dangling.ndjson", _dump(r), j + 1, "merchant_id", "merchant 987654 does not exist")
    )
    r = [dict(x) for x in rows]
    r[i]["ts"] = "2026-11-20 12:00:00"
    cases.append(("naive-time.ndjson", _dump(r), i + 1, "ts", "no UTC offset"))
    r = [dict(x) for x in rows]
    r[i]["opens"] = 2.5
    cases.append(("fraction.ndjson", _dump(r), i + 1, "opens", "not an integer"))
    r = [dict(x) for x in rows]
    r[i]["opnes"] = 2
    cases.append(("unknown-field.ndjson", _dump(r), i + 1, "opnes", "unknown field"))
    r = [dict(x) for x in rows]
    r[i]["amount"] = "1.00"
    cases.append(("foreign-field.ndjson", _dump(r), i + 1, "amount", "not a field of kind session"))
    r = [dict(x) for x in rows]
    r[j]["entry"] = "pigeon"
    cases.append(("bad-enum.ndjson", _dump(r), j + 1, "entry", "must be one of"))
    r = [dict(x) for x in rows]
    r[i]["messages"] = -3
    cases.append(("negative.ndjson", _dump(r), i + 1, "messages", "negative"))
    r = [dict(x) for x in rows]
    r.append({"kind": "refund", "tx_id": 424242, "ts": "2026-11-20T12:10:00+08:00"})
    cases.append(
        ("refund-nothing.ndjson", _dump(r), len(r), "tx_id", "transaction 424242 does not exist")
    )
    r = [dict(x) for x in rows]
    r.append({"kind": "refund", "tx_id": 7, "ts": "2026-11-20T12:10:00+08:00"})
    r.append({"kind": "refund", "tx_id": 7, "ts": "2026-11-20T12:11:00+08:00"})
    cases.append(("refund-twice.ndjson", _dump(r), len(r), "tx_id", "is refunded"))
    r = [dict(x) for x in rows]
    r.append({"kind": "payscore_collect", "order_id": 39, "ts": "2026-11-20T12:10:00+08:00"})
    cases.append(("collect-open-order.ndjson", _dump(r), len(r), "order_id", "not done"))
    r = [dict(x) for x in rows]
    k = _find(r, "user")
    r.append(dict(r[k]))
    cases.append(("duplicate-key.ndjson", _dump(r), len(r), "user_id", "appears twice"))
    r = [dict(x) for x in rows]
    r[k]["user_id"] = 5
    cases.append(("key-exists.ndjson", _dump(r), k + 1, "user_id", "5 already exists"))
    r = [dict(x) for x in rows]
    moved = r.pop(_find(r, "merchant"))
    r.append(moved)
    cases.append(("created-later.ndjson", _dump(r), 2, "merchant_id", "later line"))
    # CSV: a row with too many values, a wrong type (line numbers count the header).
    b = batches(1, 60, seed=6)[0]
    import pyarrow.csv as pacsv

    buf = pa.BufferOutputStream()
    pacsv.write_csv(b["session"], buf)
    text = buf.getvalue().to_pybytes().decode().splitlines()
    cases.append(
        (
            "session-extra.csv",
            "\n".join([*text[:3], text[3] + ",9", *text[4:]]).encode(),
            4,
            "",
            "expected 7 values",
        )
    )
    parts = text[5].split(",")
    parts[2] = "many"
    cases.append(
        (
            "session-type.csv",
            "\n".join([*text[:5], ",".join(parts), *text[6:]]).encode(),
            6,
            "opens",
            "not an integer",
        )
    )
    # Parquet: not Parquet at all; a naive timestamp column.
    cases.append(("garbage.parquet", b"PAR1 this is not parquet", 0, "", "not a Parquet file"))
    t = b["session"]
    t = t.set_column(0, "ts", t.column("ts").cast(pa.timestamp("us")))
    buf = pa.BufferOutputStream()
    pq.write_table(t, buf)
    cases.append(
        ("session-naive.parquet", buf.getvalue().to_pybytes(), 1, "ts", "without time zone")
    )
    cases.append(("notes.txt", b"hello", 0, "", "unknown file type"))
    return cases


BAD = _bad_cases()


@pytest.mark.slow
@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_bad_file_is_rejected_with_line_and_field(case, db_path: Path, spool_dir: Path) -> None:
    name, data, line, field, words = case
    (spool_dir / name).write_bytes(data)
    good = write_file(spool_dir, batches(1, 50, seed=9)[0], "parquet", name="zz-good.parquet")
    db = open_db(db_path, write=True)
    before, state = counts(db.con), rollup_state(db.con)
    spool = Spool(db, spool_dir)
    res = {r.name: r for r in spool.run_once()}
    assert res[name].outcome == "rejected"
    assert res[good.name].outcome == "ingested"  # the other file goes on
    assert (spool_dir / "rejected" / name).read_bytes() == data
    reason = (spool_dir / "rejected" / f"{name}.reason").read_text()
    unit = "row" if name.endswith(".parquet") else "line"
    where = f"{unit} {line}" if line else "file"
    expected = f"{where}, field {field}:" if field else f"{where}:"
    first = [ln for ln in reason.splitlines()[1:] if words in ln]
    assert first and first[0].startswith(expected), reason
    # Nothing of the bad file was loaded: only the good file's rows moved.
    db.con.execute("BEGIN")
    after = counts(db.con)
    db.con.execute("ROLLBACK")
    good_rows = sum(t.num_rows for k, t in batches(1, 50, seed=9)[0].items() if not KINDS[k].update)
    assert sum(after.values()) - sum(before.values()) == good_rows
    assert state != rollup_state(db.con)
    log = dict(db.con.execute("SELECT name, outcome FROM ingest_log").fetchall())
    assert log == {name: "rejected", good.name: "ingested"}
    spool.close()
    db.close()


def test_rejected_file_reports_every_problem_line(db_path: Path, spool_dir: Path) -> None:
    rows = _good()
    idx = [i for i, r in enumerate(rows) if r["kind"] == "session"][:3]
    for i in idx:
        rows[i]["user_id"] = 99999
    (spool_dir / "many.ndjson").write_bytes(_dump(rows))
    db = open_db(db_path, write=True)
    spool = Spool(db, spool_dir)
    (res,) = spool.run_once()
    assert [p.line for p in res.problems] == [i + 1 for i in idx]
    spool.close()
    db.close()


# -- exactly once ----------------------------------------------------------------------------------


def test_same_content_again_is_skipped_and_logged(db_path: Path, spool_dir: Path) -> None:
    b = batches(1, 300)[0]
    first = write_file(spool_dir, b, "ndjson", name="a.ndjson")
    db = open_db(db_path, write=True)
    spool = Spool(db, spool_dir)
    spool.run_once()
    before = counts(db.con)
    shutil.copy(spool_dir / "done" / first.name, spool_dir / "b.ndjson")  # dropped again, renamed
    shutil.copy(spool_dir / "done" / first.name, spool_dir / "a.ndjson")  # and under its name
    res = spool.run_once()
    assert [r.outcome for r in res] == ["duplicate", "duplicate"]
    assert counts(db.con) == before
    log = db.con.execute("SELECT name, outcome FROM ingest_log ORDER BY ingested_at").fetchall()
    assert sorted(log) == [
        ("a.ndjson", "duplicate"),
        ("a.ndjson", "ingested"),
        ("b.ndjson", "duplicate"),
    ]
    assert sorted(p.name for p in (spool_dir / "done").iterdir()) == [
        "a.ndjson",
        "a~1.ndjson",
        "b.ndjson",
    ]
    spool.close()
    db.close()


def test_temporary_and_dotfiles_are_never_read(db_path: Path, spool_dir: Path) -> None:
    data = encode(batches(1, 100)[0], "ndjson")
    (spool_dir / "events-1.ndjson.tmp").write_bytes(data[:50])
    (spool_dir / ".events-2.ndjson").write_bytes(data[:50])
    (spool_dir / "subdir").mkdir()
    db = open_db(db_path, write=True)
    spool = Spool(db, spool_dir)
    assert spool.pending() == []
    assert spool.run_once() == []
    assert (spool_dir / "events-1.ndjson.tmp").exists() and (
        spool_dir / ".events-2.ndjson"
    ).exists()
    assert db.con.execute("SELECT count(*) FROM ingest_log").fetchall() == [(0,)]
    spool.close()
    db.close()


def test_delete_mode_deletes_ingested_but_keeps_rejected(db_path: Path, spool_dir: Path) -> None:
    write_file(spool_dir, batches(1, 100)[0], "parquet", name="good.parquet")
    (spool_dir / "bad.ndjson").write_text('{"kind": "session"}\n')
    db = open_db(db_path, write=True)
    spool = Spool(db, spool_dir, delete=True)
    spool.run_once()
    assert (
        not (spool_dir / "good.parquet").exists()
        and not (spool_dir / "done" / "good.parquet").exists()
    )
    assert (spool_dir / "rejected" / "bad.ndjson").exists()
    spool.close()
    db.close()


def test_one_ingester_per_spool_directory(db_path: Path, spool_dir: Path, tmp_path: Path) -> None:
    db = open_db(db_path, write=True)
    spool = Spool(db, spool_dir)
    with pytest.raises(BadInput, match="another ecotop is ingesting"):
        Spool(db, spool_dir)
    spool.close()
    Spool(db, spool_dir).close()  # free again once closed
    db.close()


# -- the feed thread and the write-ahead log ----------------------------------------------------------


def test_feed_thread_ingests_while_running_and_stops_cleanly(
    db_path: Path, spool_dir: Path
) -> None:
    db = open_db(db_path, write=True)
    results = []
    feed = SpoolFeed(db, spool_dir, interval_s=0.05, on_result=results.append)
    before = counts(db.con)
    feed.start()
    bs = batches(3, 200)
    for b in bs:
        write_file(spool_dir, b, "parquet")
    deadline = time.monotonic() + 30
    while feed.files < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    feed.stop()
    assert not feed.running and feed.error is None
    assert feed.files == 3 and feed.total == sum(sum(t.num_rows for t in b.values()) for b in bs)
    assert feed.last_append_at is not None and feed.events_per_s() > 0
    inserted = sum(t.num_rows for b in bs for k, t in b.items() if not KINDS[k].update)
    assert sum(counts(db.con).values()) - sum(before.values()) == inserted
    db.close()


@pytest.mark.slow
def test_wal_stays_bounded_under_continuous_ingest(db_path: Path, spool_dir: Path) -> None:
    limit = 512 * 1024
    db = open_db(db_path, write=True)
    spool = Spool(db, spool_dir, wal_limit=limit)
    sizes = []
    mk = EventMaker(11)
    for i in range(8):
        write_file(spool_dir, mk.batch(1500, T0 + timedelta(minutes=i)), "parquet")
        spool.run_once()
        sizes.append(spool.wal_size())
    assert spool.checkpoints >= 1
    assert max(sizes) <= limit  # checked after each file: never left above the limit
    spool.close()
    db.close()


def test_feed_and_readers_share_the_file(db_path: Path, spool_dir: Path) -> None:
    """A reader cursor keeps answering (snapshot isolation) while the feed writes."""
    db = open_db(db_path, write=True)
    feed = SpoolFeed(db, spool_dir, interval_s=0.02)
    feed.start()
    stop = threading.Event()
    seen = []

    def read() -> None:
        cur = db.cursor()
        while not stop.is_set():
            seen.append(cur.execute("SELECT count(*) FROM app_sessions").fetchall()[0][0])

    t = threading.Thread(target=read)
    t.start()
    mk = EventMaker(12)
    for i in range(3):
        write_file(spool_dir, mk.batch(300, T0 + timedelta(minutes=i)), "ndjson")
    deadline = time.monotonic() + 30
    while feed.files < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    t.join()
    feed.stop()
    assert feed.files == 3 and seen == sorted(seen) and seen[-1] > seen[0]
    db.close()


# -- the documented format -------------------------------------------------------------------------


def test_readme_documents_every_kind_and_its_example_lines_are_valid(db_path: Path) -> None:
    # the spool format reference moved from the README to docs/spool.md (#11)
    readme = (Path(__file__).resolve().parent.parent / "docs" / "spool.md").read_text()
    section = readme.split("# Feeding ecotop: the spool directory", 1)[1].split("\n## ", 1)[0]
    rows = {
        ln.split("|")[1].strip().strip("`"): ln
        for ln in section.splitlines()
        if ln.startswith("| `")
    }
    for name, kind in KINDS.items():
        assert name in rows, name
        for f in kind.fields:
            assert f"`{f.name if f.required else f.name + '?'}`" in rows[name], (name, f.name)
    block = section.split("```ndjson\n", 1)[1].split("```", 1)[0]
    lines = [json.loads(ln) for ln in block.splitlines()]
    assert [ln["kind"] for ln in lines] == list(KINDS)
    from ecotop.store.spool import parse, stage

    db = open_db(db_path, write=True)
    cur = db.cursor()
    typed = stage(parse(cur, block.encode(), "ndjson", None), cur)  # types and rules all pass
    assert {k: t.num_rows for k, t in typed.items()} == dict.fromkeys(KINDS, 1)
    db.close()


# -- small files that queue up are loaded together ------------------------------------------------


@pytest.mark.slow
def test_queued_small_files_load_together_each_logged_and_a_bad_one_rejected_alone(
    db_path: Path, spool_dir: Path
) -> None:
    """Eight small files waiting at once: one transaction for the good ones (fewer commits), yet
    each file has its own ingest_log row and checksum, lands once, and the bad one is rejected
    on its own with its own reason, while the rollups equal a rebuild."""
    good = batches(8, 300, seed=5)
    names = []
    for i, ev in enumerate(good):
        names.append(write_file(spool_dir, ev, "ndjson", name=f"small-{i:02d}.ndjson").name)
        time.sleep(0.01)  # distinct modification times: oldest first
    bad = spool_dir / "small-99-bad.ndjson"
    bad.write_text('{"kind": "refund", "tx_id": 424242, "ts": "2026-11-20T12:10:00+08:00"}\n')
    db = open_db(db_path, write=True)
    before = counts(db.con)
    spool = Spool(db, spool_dir)
    commits = []
    real_write = spool.loader._write

    def counting_write(res, staged, crash):  # observe the committed transactions, change nothing
        real_write(res, staged, crash)
        commits.append(len(res) if isinstance(res, list) else 1)

    spool.loader._write = counting_write  # type: ignore[method-assign]
    results = spool.run_once()
    spool.close()
    by_name = {r.name: r for r in results}
    assert [by_name[n].outcome for n in names] == ["ingested"] * 8
    assert by_name[bad.name].outcome == "rejected"
    assert (spool_dir / "rejected" / f"{bad.name}.reason").read_text().count("424242") == 1
    assert sum(commits) == 8 and len(commits) < 8  # grouped, each file counted once
    logged = db.con.execute(
        "SELECT name, count(*) FROM ingest_log WHERE outcome = 'ingested' GROUP BY ALL"
    ).fetchall()
    assert sorted(logged) == sorted((n, 1) for n in names)
    after = counts(db.con)
    exp = dict.fromkeys(RAW_TABLES, 0)
    for ev in good:
        for kind, t in ev.items():
            if not KINDS[kind].update:
                exp[KINDS[kind].table] += t.num_rows
    assert {t: after[t] - before[t] for t in RAW_TABLES} == exp
    assert_rollups_match_rebuild(db.con)
    db.close()
