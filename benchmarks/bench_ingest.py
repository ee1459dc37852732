"""Spool ingestion throughput: files of 100k mixed events, sustained, while the dashboard refreshes.

On a copy of the generated database at ctx.scale (seed 1), event files are made first (every kind of
the spool format in the mix of the generated history: sessions, payments with their refunds and
memberships, Mini Program visits, reads, views, Pay Score orders with their completion and collection,
follows, WeCom contacts and group joins, new users), with ids sampled from the file so every id
exists, and stamped just before now. Then one format at a time is ingested for `duration` seconds by
`store.spool.Spool` (the engine of `ecotop ingest` and of `--spool`) while another thread runs a full
dashboard refresh (`queries.kpis(cur, "1h")` + `queries.views.trends`) every second on its
own cursor. Reported: events/s by format, CPU seconds per 100k events and per phase, refresh p50/p95
idle and under load, the write-ahead log's size after each file (max) and the checkpoints it took.

The events come from a vectorised maker here rather than sample_data.live.EventStream: the stream
makes the history's ~40 events/s at scale 1, and 60 s of ingest needs tens of millions of events.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from benchmarks.common import DATA_DIR, stats

FILE_EVENTS = 100_000
# Share of each kind in a file (the generated history's mix; updates follow their rows).
MIX = {
    "session": 0.255,
    "transaction": 0.345,
    "mp_visit": 0.12,
    "oa_read": 0.09,
    "channel_view": 0.08,
    "payscore_order": 0.02,
    "oa_follow": 0.01,
    "membership": 0.012,
    "wecom_contact": 0.004,
    "group_member": 0.004,
    "wecom_message": 0.002,
    "refund": 0.007,
    "payscore_complete": 0.017,
    "payscore_collect": 0.015,
    "live_end": 0.0,
    "user": 0.001,
}


def _u(n: int, seed: list[int]) -> pa.Array:
    seed[0] += 1
    return pc.random(n, initializer=seed[0])


def _pick(pool: pa.Array, n: int, seed: list[int]) -> pa.Array:
    idx = pc.cast(pc.floor(pc.multiply(_u(n, seed), len(pool) - 1e-9)), pa.int64())
    return pc.take(pool, idx)


def _ints(n: int, lo: int, hi: int, seed: list[int]) -> pa.Array:
    return pc.cast(pc.add(pc.floor(pc.multiply(_u(n, seed), hi - lo + 1)), lo), pa.int32())


class Maker:
    """Vectorised mixed batches whose ids exist in the database (or earlier in the batch)."""

    def __init__(self, cur: Any, seed: int = 1) -> None:
        def col(sql: str) -> pa.Array:
            return cur.sql(sql).to_arrow_table().column(0).combine_chunks()

        def tbl(sql: str) -> pa.Table:
            return cur.sql(sql).to_arrow_table().combine_chunks()

        self.users = col("SELECT user_id FROM users")
        self.merchants = col("SELECT merchant_id FROM merchants")
        self.mps = tbl("SELECT mp_id, merchant_id FROM mini_programs")
        self.articles = tbl(
            "SELECT article_id, account_id FROM oa_articles ORDER BY published_at DESC LIMIT 20000"
        )
        self.accounts = col("SELECT account_id FROM official_accounts")
        self.posts = tbl(
            "SELECT post_id, channel_id FROM channel_posts ORDER BY ts DESC LIMIT 20000"
        )
        self.corps = col("SELECT corp_id FROM wecom_enterprises")
        self.groups = col("SELECT group_id FROM groups WHERE kind = 'customer'")
        self.next_tx = cur.execute("SELECT max(tx_id) + 1 FROM transactions").fetchall()[0][0]
        self.next_order = cur.execute("SELECT max(order_id) + 1 FROM payscore_orders").fetchall()[
            0
        ][0]
        self.next_user = cur.execute("SELECT max(user_id) + 1 FROM users").fetchall()[0][0]
        # Rows the updates of the first files refer to: recent payments, open orders.
        self.refundable = col(
            "SELECT tx_id FROM transactions WHERE status = 'success' ORDER BY ts DESC LIMIT 20000"
        )
        self.open_orders = col(
            "SELECT order_id FROM payscore_orders WHERE state IN ('created', 'doing') "
            "ORDER BY ts DESC LIMIT 20000"
        )
        self.done_unpaid = pa.array([], pa.int64())
        self.seed = [seed * 1000]

    def batch(self, n: int, t0: datetime, span_s: float = 2.0) -> dict[str, pa.Table]:
        from ecotop.sample_data.producer import kind_schema

        s = self.seed
        k = {kind: int(round(n * share)) for kind, share in MIX.items()}
        k["session"] += n - sum(k.values())
        out: dict[str, dict[str, Any]] = {}

        def ts(m: int) -> pa.Array:
            base = int(t0.timestamp() * 1_000_000)
            us = pc.add(
                pc.cast(pc.floor(pc.multiply(_u(m, s), span_s * 1_000_000)), pa.int64()), base
            )
            return pc.cast(pc.take(us, pc.sort_indices(us)), pa.timestamp("us", tz="UTC"))

        m = k["session"]
        out["session"] = {
            "ts": ts(m), "user_id": _pick(self.users, m, s), "opens": _ints(m, 1, 6, s),
            "messages": _ints(m, 0, 40, s),
            "video_call_minutes": pc.multiply(pc.floor(pc.subtract(pc.multiply(_u(m, s), 1.43), 1.0)),
                                              pc.multiply(_u(m, s), 30.0)),
            "moments_views": _ints(m, 0, 8, s), "moments_posts": _ints(m, 0, 1, s),
        }  # fmt: skip
        out["session"]["video_call_minutes"] = pc.max_element_wise(
            out["session"]["video_call_minutes"], 0.0
        )
        m = k["transaction"]
        tx_ids = pa.array(range(self.next_tx, self.next_tx + m), pa.int64())
        self.next_tx += m
        mp = pc.take(
            self.mps, pc.cast(pc.floor(pc.multiply(_u(m, s), self.mps.num_rows - 1e-9)), pa.int64())
        )
        cents = pc.cast(
            pc.floor(
                pc.exp(pc.add(7.2, pc.multiply(pc.subtract(pc.add(_u(m, s), _u(m, s)), 1.0), 1.6)))
            ),
            pa.int64(),
        )
        amount = pc.cast(
            pc.divide(pc.cast(pc.max_element_wise(cents, 1), pa.float64()), 100.0),
            pa.decimal128(18, 2),
        )
        entry = pc.take(
            pa.array(["qr", "face", "mini_program", "in_app"]),
            pc.cast(pc.floor(pc.multiply(_u(m, s), 3.999)), pa.int64()),
        )
        status = pc.if_else(pc.less(_u(m, s), 0.01), "failed", "success")
        tx_ts = ts(m)
        out["transaction"] = {
            "tx_id": tx_ids, "ts": tx_ts, "user_id": _pick(self.users, m, s),
            "merchant_id": mp.column("merchant_id"), "amount": amount, "entry": entry,
            "status": status,
        }  # fmt: skip
        m = k["membership"]
        out["membership"] = {
            "merchant_id": mp.column("merchant_id").slice(0, m),
            "user_id": out["transaction"]["user_id"].slice(0, m),
            "enrolled_at": tx_ts.slice(0, m), "channel": pa.array(["pay_after"] * m),
            "tx_id": tx_ids.slice(0, m),
        }  # fmt: skip
        m = k["mp_visit"]
        v = pc.take(
            self.mps, pc.cast(pc.floor(pc.multiply(_u(m, s), self.mps.num_rows - 1e-9)), pa.int64())
        )
        out["mp_visit"] = {
            "ts": ts(m), "mp_id": v.column("mp_id"), "merchant_id": v.column("merchant_id"),
            "user_id": _pick(self.users, m, s), "pages": _ints(m, 1, 9, s),
            "stay_s": _ints(m, 5, 600, s),
        }  # fmt: skip
        m = k["oa_read"]
        a = pc.take(
            self.articles,
            pc.cast(pc.floor(pc.multiply(_u(m, s), self.articles.num_rows - 1e-9)), pa.int64()),
        )
        out["oa_read"] = {
            "ts": ts(m), "article_id": a.column("article_id"), "account_id": a.column("account_id"),
            "user_id": _pick(self.users, m, s), "shared": pc.less(_u(m, s), 0.1),
        }  # fmt: skip
        m = k["channel_view"]
        p = pc.take(
            self.posts,
            pc.cast(pc.floor(pc.multiply(_u(m, s), self.posts.num_rows - 1e-9)), pa.int64()),
        )
        out["channel_view"] = {
            "ts": ts(m), "user_id": _pick(self.users, m, s), "channel_id": p.column("channel_id"),
            "post_id": p.column("post_id"), "watch_s": _ints(m, 1, 60, s),
            "completed": pc.less(_u(m, s), 0.4),
        }  # fmt: skip
        m = k["payscore_order"]
        orders = pa.array(range(self.next_order, self.next_order + m), pa.int64())
        self.next_order += m
        out["payscore_order"] = {
            "order_id": orders, "ts": ts(m), "user_id": _pick(self.users, m, s),
            "merchant_id": _pick(self.merchants, m, s),
            "scenario": pc.take(pa.array(["power_bank", "ride_hailing", "bike_sharing", "courier"]),
                                pc.cast(pc.floor(pc.multiply(_u(m, s), 3.999)), pa.int64())),
            "state": pa.array(["doing"] * m), "deposit_waived": pa.array([99] * m, pa.int32()).cast(pa.decimal128(18, 2)),
            "amount": pa.array([0] * m, pa.int32()).cast(pa.decimal128(18, 2)),
        }  # fmt: skip
        m = k["oa_follow"]
        out["oa_follow"] = {
            "ts": ts(m), "account_id": _pick(self.accounts, m, s), "user_id": _pick(self.users, m, s),
            "action": pc.if_else(pc.less(_u(m, s), 0.8), "follow", "unfollow"),
            "source": pa.array(["qr"] * m),
        }  # fmt: skip
        m = k["wecom_contact"]
        out["wecom_contact"] = {
            "ts": ts(m), "corp_id": _pick(self.corps, m, s), "staff_id": _pick(self.users, m, s),
            "user_id": _pick(self.users, m, s),
            "action": pc.if_else(pc.less(_u(m, s), 0.9), "add", "remove"),
        }  # fmt: skip
        m = k["group_member"]
        out["group_member"] = {
            "ts": ts(m), "group_id": _pick(self.groups, m, s), "user_id": _pick(self.users, m, s),
            "action": pc.if_else(pc.less(_u(m, s), 0.9), "join", "leave"),
        }  # fmt: skip
        m = k["wecom_message"]
        out["wecom_message"] = {
            "ts": ts(m), "corp_id": _pick(self.corps, m, s), "targeted": pa.array([200] * m, pa.int32()),
            "delivered": pa.array([190] * m, pa.int32()), "clicked": _ints(m, 0, 190, s),
        }  # fmt: skip
        m = k["user"]
        out["user"] = {
            "user_id": pa.array(range(self.next_user, self.next_user + m), pa.int64()),
            "registered_at": ts(m), "city": pa.array(["Shenzhen"] * m),
            "province": pa.array(["Guangdong"] * m),
        }  # fmt: skip
        self.next_user += m
        # Updates: earlier payments refunded, earlier orders completed, completed ones collected.
        later = pc.cast(
            pa.array([int(t0.timestamp() * 1_000_000) + int(span_s * 1_000_000)]),
            pa.timestamp("us", tz="UTC"),
        )[0]
        m = min(k["refund"], len(self.refundable))
        out["refund"] = {
            "tx_id": self.refundable.slice(0, m),
            "ts": pa.array([later.as_py()] * m, pa.timestamp("us", tz="UTC")),
        }
        self.refundable = pa.concat_arrays(
            [self.refundable.slice(m), pc.filter(tx_ids, pc.equal(status, "success"))]
        )
        m = min(k["payscore_complete"], len(self.open_orders))
        done = self.open_orders.slice(0, m)
        out["payscore_complete"] = {
            "order_id": done,
            "ts": pa.array([later.as_py()] * m, pa.timestamp("us", tz="UTC")),
            "amount": pa.array([6] * m, pa.int32()).cast(pa.decimal128(18, 2)),
        }
        self.open_orders = pa.concat_arrays([self.open_orders.slice(m), orders])
        m = min(k["payscore_collect"], len(self.done_unpaid))
        later2 = t0 + timedelta(seconds=span_s + 1)
        out["payscore_collect"] = {
            "order_id": self.done_unpaid.slice(0, m),
            "ts": pa.array([later2] * m, pa.timestamp("us", tz="UTC")),
        }
        self.done_unpaid = pa.concat_arrays([self.done_unpaid.slice(m), done])
        events = {}
        for kind, cols in out.items():
            sch = kind_schema(kind)
            n_rows = len(next(iter(cols.values())))
            if n_rows == 0:
                continue
            arrays = [
                cols[f.name].cast(f.type) if f.name in cols else pa.nulls(n_rows, f.type)
                for f in sch
            ]
            events[kind] = pa.Table.from_arrays(arrays, schema=sch)
        return events


def _refresher(db: Any, stop: threading.Event, out: list[float]) -> None:
    """A full dashboard refresh every second on its own cursor: kpis(1h) + trends."""
    from ecotop.queries import kpis
    from ecotop.queries.views import trends

    cur = db.cursor()
    while not stop.is_set():
        t0 = time.perf_counter()
        k = kpis(cur, "1h")
        trends(cur, k.window)
        out.append((time.perf_counter() - t0) * 1000)
        stop.wait(max(0.0, 1.0 - (time.perf_counter() - t0)))
    cur.close()


def _wal(path: Path) -> int:
    try:
        return Path(f"{path}.wal").stat().st_size
    except FileNotFoundError:
        return 0


def _run_format(db: Any, db_path: Path, fmt: str, duration: float, work: Path) -> dict[str, Any]:
    from ecotop.sample_data.producer import write_file
    from ecotop.store.spool import Spool

    spool_dir = work / f"spool-{fmt}"
    spool_dir.mkdir()
    # A maker per run: files left over from the previous format were never ingested.
    maker = Maker(db.cursor(), seed=len(fmt))
    # Events just before now (in the dashboard's live hour), after everything the file holds.
    (newest,) = (
        db.cursor()
        .execute(
            "SELECT max(ts) FROM (SELECT max(ts) AS ts FROM transactions UNION ALL "
            "SELECT max(ts) FROM payscore_orders UNION ALL SELECT max(ts) FROM app_sessions)"
        )
        .fetchall()[0]
    )
    t_events = max(datetime.now(UTC) - timedelta(minutes=10), newest + timedelta(seconds=1))
    # Warm up (3 files), then make enough files for the run at 1.5x the warm-up rate.
    spool = Spool(db, spool_dir, delete=True)
    for i in range(3):
        write_file(spool_dir, maker.batch(FILE_EVENTS, t_events + timedelta(seconds=2 * i)), fmt)
    t0 = time.perf_counter()
    spool.run_once()
    warm = 3 * FILE_EVENTS / (time.perf_counter() - t0)
    n_files = int(duration * warm * 1.5 / FILE_EVENTS) + 3
    t_make = time.perf_counter()
    for i in range(n_files):
        write_file(
            spool_dir, maker.batch(FILE_EVENTS, t_events + timedelta(seconds=2 * (i + 3))), fmt
        )
    make_s = time.perf_counter() - t_make
    anchor = _anchor(spool_dir, fmt, work)
    spool.loader.timings.clear()
    refresh: list[float] = []
    stop = threading.Event()
    th = threading.Thread(target=_refresher, args=(db, stop, refresh), daemon=True)
    th.start()
    wal_sizes: list[int] = []
    events = files = rejected = 0
    c0 = time.process_time()
    t0 = time.perf_counter()
    ck0 = spool.checkpoints
    for p in spool.pending():
        if time.perf_counter() - t0 >= duration:
            break
        res = spool.process(p)
        if res is None:
            continue
        files += 1
        if res.outcome == "rejected":
            rejected += 1
            continue
        events += res.rows
        wal_sizes.append(_wal(db_path))
    elapsed = time.perf_counter() - t0
    cpu = time.process_time() - c0
    stop.set()
    th.join()
    timings = dict(spool.loader.timings)
    spool.close()
    for p in spool_dir.iterdir():
        if p.is_file():
            p.unlink()
    per100k = 100_000 / max(events, 1)
    return {
        "events_per_s": round(events / elapsed),
        "events": events,
        "files": files,
        "rejected": rejected,
        "elapsed_s": round(elapsed, 1),
        # CPU of the whole process (ingest and the refresh thread), per 100k events ingested
        "process_cpu_s_per_100k_events": round(cpu * per100k, 3),
        "phase_wall_ms_per_100k_events": {
            k: round(v * 1000 * per100k, 1) for k, v in sorted(timings.items())
        },
        "refresh_under_load": stats(refresh) if refresh else None,
        "wal_max_mib": round(max(wal_sizes, default=0) / 2**20, 1),
        "checkpoints": spool.checkpoints - ck0,
        # the first 3 files, with no refresh running
        "without_refresh_events_per_s": round(warm),
        # DuckDB alone on the same files, same run: CREATE TABLE AS SELECT * FROM read_<fmt>(all
        # files) + CHECKPOINT into a new file (no checks, no rollups, no refresh)
        "anchor_bare_ctas": anchor,
        "ratio_to_anchor": round(events / elapsed / max(anchor["events_per_s"], 1), 3),
        "cpu_s_per_wall_s": round(cpu / elapsed, 2),
        "files_made_s": round(make_s, 1),
    }


def _anchor(spool_dir: Path, fmt: str, work: Path) -> dict[str, Any]:
    """DuckDB's bare load of the waiting files: CTAS from its own reader + CHECKPOINT, new file."""
    import duckdb

    files = sorted(str(p) for p in spool_dir.iterdir() if p.is_file() and p.name[0] != ".")
    reader = {
        "parquet": "read_parquet({f}, union_by_name = true)",
        "ndjson": "read_json({f}, format = 'newline_delimited', union_by_name = true)",
        "csv": "read_csv({f}, union_by_name = true)",
    }[fmt].format(f="[" + ", ".join(f"'{x}'" for x in files) + "]")
    path = work / f"anchor-{fmt}.duckdb"
    con = duckdb.connect(str(path))
    try:
        c0 = time.process_time()
        t0 = time.perf_counter()
        con.execute(f"CREATE TABLE t AS SELECT * FROM {reader}")
        con.execute("CHECKPOINT")
        wall = time.perf_counter() - t0
        cpu = time.process_time() - c0
        (rows,) = con.execute("SELECT count(*) FROM t").fetchall()[0]
    finally:
        con.close()
        for f in (path, Path(f"{path}.wal")):
            f.unlink(missing_ok=True)
    return {
        "events_per_s": round(rows / wall),
        "events": rows,
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
    }


_CHILD = r"""
import json, resource, sys, time
from ecotop.tui.cli import main
t0 = time.perf_counter()
try:
    main(sys.argv[1:], standalone_mode=False)
except SystemExit:
    pass
wall = time.perf_counter() - t0
ru = resource.getrusage(resource.RUSAGE_SELF)
# VmHWM, not ru_maxrss: Linux keeps the parent's high-water mark in ru_maxrss across fork + exec
hwm = [ln for ln in open("/proc/self/status") if ln.startswith("VmHWM:")][0].split()[1]
print(json.dumps({"wall_s": wall, "cpu_s": ru.ru_utime + ru.ru_stime,
                  "peak_rss_mb": int(hwm) / 1024}), file=sys.stderr)
"""


def _ingest_process(db_path: Path, spool_dir: Path) -> dict[str, Any]:
    """`ecotop ingest DB --spool DIR --once` in a fresh process: wall, CPU, peak RSS."""
    import json
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, "ingest", str(db_path), "--spool", str(spool_dir),
         "--once", "--delete"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    out = json.loads(proc.stderr.strip().splitlines()[-1])
    summary = json.loads(proc.stdout) if proc.stdout.strip() else {}
    out["events"] = summary.get("events", 0)
    out["rejected"] = summary.get("rejected")
    return out


def _million(src: Path, fmt: str, work: Path, n_events: int) -> dict[str, Any]:
    """The whole `ecotop ingest --once` process on n_events in 100k-event files, into a copy of
    the generated file, beside DuckDB's CTAS of the same files (same run), and the process's peak
    RSS beside that of the same command with nothing to ingest (extra memory = the difference)."""
    from ecotop.sample_data.producer import write_file
    from ecotop.store import open_db

    spool_dir = work / f"million-{fmt}"
    spool_dir.mkdir()
    target = work / f"million-{fmt}.duckdb"
    shutil.copy(src, target)
    fresh = open_db(target, write=True)  # ids sampled from the very file they go into
    _catch_up_schema(fresh)
    maker = Maker(fresh.cursor(), seed=7 + len(fmt))
    t_events = datetime.now(UTC) - timedelta(minutes=5)
    for i in range(n_events // FILE_EVENTS):
        write_file(spool_dir, maker.batch(FILE_EVENTS, t_events + timedelta(seconds=i)), fmt)
    fresh.close()
    anchor = _anchor(spool_dir, fmt, work)
    empty = work / "empty-spool"
    empty.mkdir(exist_ok=True)
    idle = _ingest_process(target, empty)
    run = _ingest_process(target, spool_dir)
    target.unlink(missing_ok=True)
    Path(f"{target}.wal").unlink(missing_ok=True)
    shutil.rmtree(spool_dir, ignore_errors=True)
    return {
        "events": run["events"],
        "rejected": run["rejected"],
        "wall_s": round(run["wall_s"], 2),
        "cpu_s": round(run["cpu_s"], 2),
        "events_per_s": round(run["events"] / max(run["wall_s"], 1e-9)),
        "peak_rss_mb": round(run["peak_rss_mb"]),
        "idle_process_peak_rss_mb": round(idle["peak_rss_mb"]),
        "extra_memory_mb": round(run["peak_rss_mb"] - idle["peak_rss_mb"]),
        "anchor_bare_ctas": anchor,
        "ratio_to_anchor_wall": round(anchor["wall_s"] / max(run["wall_s"], 1e-9), 3),
    }


def _catch_up_schema(db: Any) -> list[str]:
    """Create tables a cached benchmark file predates (migrations edited in place), rebuilding the
    rollups if one of them is a rollup. Returns what was created."""
    import re

    from ecotop.store import rollups
    from ecotop.store.db import MIGRATIONS_DIR

    con = db.con
    have = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    made = []
    for f in sorted(MIGRATIONS_DIR.glob("*.sql")):
        text = "\n".join(line.split("--")[0] for line in f.read_text().splitlines())
        for stmt in text.split(";"):
            m = re.search(r"CREATE TABLE (\w+)", stmt)
            if m and m.group(1) not in have:
                con.execute(stmt)
                made.append(m.group(1))
    if any(t.startswith("rollup_") for t in made):
        con.execute("BEGIN")
        rollups.rebuild(con)
        con.execute("COMMIT")
        con.execute("CHECKPOINT")
    return made


def _check_schema(db: Any, src: Path) -> None:
    """Fail clearly when the cached file's rollups no longer fit this build's rollup SQL."""
    import duckdb

    from ecotop.store import rollups

    con = db.con
    con.execute("BEGIN")
    try:
        sources = rollups.MINUTE_SQL.keys() | rollups.ACTIVITY_SQL.keys()
        rollups.apply(con, {t: f"(SELECT * FROM {t} LIMIT 0)" for t in sources})
    except duckdb.Error as exc:
        first = str(exc).splitlines()[0]
        raise RuntimeError(
            f"{src} predates this build's schema ({first}); delete it and the benchmark makes a "
            "new one"
        ) from None
    finally:
        con.execute("ROLLBACK")


def run(ctx: Any) -> dict[str, Any]:
    from ecotop.store import open_db

    duration = 15.0 if ctx.quick else 60.0
    src = ctx.database()
    work = Path(tempfile.mkdtemp(prefix="bench-ingest-", dir=DATA_DIR))
    db_path = work / "ingest.duckdb"
    try:
        shutil.copy(src, db_path)
        db = open_db(db_path, write=True)
        caught_up = _catch_up_schema(db)
        _check_schema(db, src)
        # Idle refresh first: the same refresh with nothing ingesting.
        idle: list[float] = []
        stop = threading.Event()
        th = threading.Thread(target=_refresher, args=(db, stop, idle), daemon=True)
        th.start()
        time.sleep(5 if ctx.quick else 10)
        stop.set()
        th.join()
        out: dict[str, Any] = {
            "scale": ctx.scale,
            "file_events": FILE_EVENTS,
            "duration_s": duration,
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
            "refresh_idle": stats(idle),
            "schema_caught_up": caught_up,
        }
        for fmt in ("parquet", "ndjson", "csv"):
            out[fmt] = _run_format(db, db_path, fmt, duration, work)
        out["wal_limit_mib"] = 64
        # the whole process on 1M events per format (0.3M with --quick)
        n = 300_000 if ctx.quick else 1_000_000
        for fmt in ("parquet", "ndjson"):
            out[f"process_{fmt}"] = _million(src, fmt, work, n)
        db.close()
        out["rows"] = _rows(out)
        return out
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _rows(out: dict[str, Any]) -> list[dict[str, Any]]:
    """BENCHMARKS.md lines: events/s per format beside DuckDB's bare CTAS of the same files, the
    refresh while ingesting, and the whole `ingest --once` process."""
    from benchmarks.common import row

    area = "Writes: spool ingestion"
    targets = {"parquet": 500_000, "ndjson": 250_000, "csv": 200_000}
    rows = []
    for fmt, target in targets.items():
        r = out[fmt]
        rows.append(
            row(
                area,
                f"spool ingest, {fmt}, 100k-event files, refresh every 1 s on another cursor",
                f">= {target // 1000}k events/s",
                r["events_per_s"],
                unit="events/s",
                anchor=r["anchor_bare_ctas"]["events_per_s"],
                anchor_what="DuckDB CTAS of the same files",
                ok=r["events_per_s"] >= target,
                note=f"{r['without_refresh_events_per_s']:,} events/s with no refresh; "
                f"{r['process_cpu_s_per_100k_events']} s CPU per 100k events",
            )
        )
    for fmt in targets:
        under = out[fmt].get("refresh_under_load")
        if under:
            rows.append(
                row(
                    area,
                    f"overview refresh p95 while ingesting {fmt}",
                    "<= 100 ms",
                    under["p95_ms"],
                    anchor=out["refresh_idle"]["p95_ms"],
                    anchor_what="the same refresh, nothing ingesting",
                    ok=under["p95_ms"] <= 100,
                )
            )
    for fmt in ("parquet", "ndjson"):
        m = out[f"process_{fmt}"]
        anchor_s = m["anchor_bare_ctas"]["wall_s"]
        rows.append(
            row(
                area,
                f"whole `ecotop ingest --once` process, {m['events']:,} {fmt} events",
                "<= 1/0.3 of DuckDB's time",
                m["wall_s"],
                unit="s",
                anchor=anchor_s,
                anchor_what="DuckDB CTAS + CHECKPOINT of the same files",
                cpu=m["cpu_s"] * 1000,
                ok=m["wall_s"] <= anchor_s / 0.3,
                note=f"{m['extra_memory_mb']} MB extra memory, {m['rejected']} rejected",
            )
        )
    return rows
