"""The SQL guard's cost: checking, a guarded run vs a raw one, streaming, and cancelling.

Uses its own small file (an ecotop schema plus a 1M-row table in a temp dir) so it needs no generator.
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks.common import Context, stats, timeit

QUERY = (
    "SELECT u.city, count(*) AS n, sum(t.amount) AS gmv FROM transactions t "
    "JOIN users u USING (user_id) WHERE t.status <> 'failed' GROUP BY ALL ORDER BY gmv DESC"
)
WIDE = "SELECT range AS id, (range % 1000)::DECIMAL(18, 2) AS amount, 'm' || (range % 997) AS name FROM big"


def run(ctx: Context) -> dict[str, Any]:
    from ecotop import store
    from ecotop.store import guard

    repeat = 5 if ctx.quick else 20
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "g.duckdb"
        db = store.create_db(path)
        db.con.execute("CREATE TABLE big AS SELECT range FROM range(2000000)")
        db.con.execute("CHECKPOINT")
        db.close()
        db = store.open_db(path)
        cur = db.cursor()
        raw = db.cursor()
        out["check_no_cursor"] = timeit(lambda: guard.check(QUERY), repeat=repeat * 5)
        out["check_with_cursor"] = timeit(lambda: guard.check(QUERY, cur), repeat=repeat * 5)
        # the bounds' cost at their caps: splitting and bounding on DuckDB's tokens (#15.5)
        chain = " UNION ALL ".join(f"SELECT {i} AS x" for i in range(1000))
        out["check_union_chain_1000"] = timeit(lambda: guard.check(chain), repeat=repeat)
        long_text = "SELECT '" + "x" * 99_000 + "' AS s"
        out["check_99k_chars"] = timeit(lambda: guard.check(long_text), repeat=repeat)
        out["run_select_1"] = timeit(lambda: guard.run(cur, "SELECT 1", 1000), repeat=repeat * 5)
        out["raw_select_1"] = timeit(
            lambda: raw.sql("SELECT 1").limit(1001).to_arrow_table(), repeat=repeat * 5
        )

        def stream_all(limit: int) -> tuple[float, float]:
            t0 = time.perf_counter()
            first = None
            rows = 0
            with guard.stream(cur, WIDE, limit) as s:
                for b in s:
                    if first is None:
                        first = time.perf_counter() - t0
                    rows += b.num_rows
            return rows / (time.perf_counter() - t0), (first or 0) * 1000

        samples = [stream_all(1_000_000) for _ in range(max(3, repeat // 4))]
        out["stream_1m_rows_per_s_median"] = round(sorted(s[0] for s in samples)[len(samples) // 2])
        out["stream_first_batch"] = stats([s[1] for s in samples])
        out["run_1m_rows"] = timeit(lambda: guard.run(cur, WIDE, 1_000_000), repeat=3, warmup=1)

        slow = "SELECT count(*) FROM range(100000000) a, range(1000) b WHERE (a.range * b.range) % 7 = 3"
        cancel_ms = []
        for _ in range(3 if ctx.quick else 8):
            done: list[float] = []

            def work(done: list[float] = done) -> None:
                try:
                    guard.run(cur, slow, None)
                except guard.SqlCancelled:
                    done.append(time.perf_counter())

            t = threading.Thread(target=work)
            t.start()
            time.sleep(0.2)
            t0 = time.perf_counter()
            cur.interrupt()
            t.join()
            if done:
                cancel_ms.append((done[0] - t0) * 1000)
        out["interrupt_to_cancelled"] = stats(cancel_ms) if cancel_ms else {"error": "no cancel"}
        db.close()
    return out
