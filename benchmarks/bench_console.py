"""SQL console: `:` to a painted console, first rows of `select * from transactions`, the memory that
costs, and how fast cancelling a long query gives control back.

Runs the real app headless (Textual's test driver) on a benchmark database: the generated file at
`--scale`, or `ECOTOP_BENCH_CONSOLE_DB=path` for another file (for example a file whose transactions
table has the row count of a larger scale). History and buffer go to a throw-away state directory.
The terminal is 160x48 (more cells to draw than 80x24). Keys are posted straight to the app.

- open_painted: `:` to the first frame of the console (editor focused, typing possible);
  open_settled: until the results area is mounted too; open_ui_cpu: CPU of the UI thread.
- first_rows: ctrl+j on `select * from transactions` to the frame that draws its rows (the row
  limit is pushed into DuckDB); rss_growth_mb / rss_peak_growth_mb: resident memory it added.
- cancel_control_back: esc on a long query until the editor takes a key again;
  cancel_query_stopped: until the query's worker has ended.
- machine: a plain-Python loop timed now (the box is shared; compare runs by it) and the load.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from textual import events

from benchmarks.common import stats

#: A statement that runs far longer than 10 s on this machine whatever the data (10^10 pairs).
LONG_QUERY = (
    "select count(*) from range(100000) a(x), range(100000) b(y) where (x * 31 + y) % 7 = 3"
)


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


async def _until(cond: Any, timeout: float = 60.0, step: float = 0.001) -> None:
    deadline = time.perf_counter() + timeout
    while not cond():
        if time.perf_counter() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(step)


async def _measure(path: Path, repeat: int) -> dict[str, Any]:
    from ecotop.tui.app import make_app
    from ecotop.tui.screens.console import ConsoleScreen

    app = make_app(path, refresh_s=1.0, watchdog=False)
    out: dict[str, Any] = {"database": str(path)}
    async with app.run_test(size=(160, 48)) as pilot:
        await _until(lambda: app.refresh_count >= 1, timeout=120, step=0.05)

        # -- `:` opens the console -----------------------------------------------------------
        # `painted`: the console is on screen with the editor focused (its first frame);
        # `settled`: the results area is mounted too; `ui_cpu`: CPU of the UI thread until then
        painted: list[float] = []
        settled: list[float] = []
        cpu: list[float] = []
        for _ in range(repeat + 1):
            await _until(lambda: getattr(app, "_inflight", None) is None, timeout=60, step=0.01)
            c0 = time.thread_time()
            t0 = time.perf_counter()
            app.post_message(events.Key("colon", ":"))
            await _until(
                lambda: isinstance(app.screen, ConsoleScreen) and app.screen.painted_at is not None
            )
            painted.append((app.screen.painted_at - t0) * 1000)
            await _until(lambda: app.screen.has_results_widget)
            await pilot.pause()
            settled.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.thread_time() - c0) * 1000)
            await pilot.press("escape")
            await pilot.pause(0.3)
        out["open_first"] = {
            "painted_ms": round(painted[0], 1),
            "settled_ms": round(settled[0], 1),
            "ui_cpu_ms": round(cpu[0], 1),
        }
        out["open_painted"] = stats(painted[1:])
        out["open_settled"] = stats(settled[1:])
        out["open_ui_cpu"] = stats(cpu[1:])

        await pilot.press("colon")
        await _until(lambda: isinstance(app.screen, ConsoleScreen))
        screen: ConsoleScreen = app.screen  # type: ignore[assignment]
        await pilot.pause(0.5)

        # -- first rows of a huge result -----------------------------------------------------
        firsts: list[float] = []
        growth: list[float] = []
        peaks: list[float] = []
        rows = truncated = None
        first_cpu: list[float] = []
        for _ in range(repeat):
            screen.editor.load_text("select * from transactions")
            await pilot.pause()
            await _until(lambda: getattr(app, "_inflight", None) is None, timeout=60, step=0.01)
            rss0 = _status_kb("VmRSS")
            peak_ok = _reset_peak()
            c0 = time.thread_time()
            t0 = time.perf_counter()
            # the key goes straight in (Pilot.press waits for the app to idle, which is not
            # what a person sees); the rows are on screen when the table first draws them
            app.post_message(events.Key("ctrl+j", None))

            def painted() -> float | None:
                view = screen.results.current if screen.has_results_widget else None
                table = view.data_table if view is not None else None
                return getattr(table, "painted_at", None) if table is not None else None

            await _until(lambda t0=t0: painted() is not None and painted() > t0)
            firsts.append((painted() - t0) * 1000)
            await pilot.pause()
            first_cpu.append((time.thread_time() - c0) * 1000)
            growth.append((_status_kb("VmRSS") - rss0) / 1024)
            if peak_ok:
                peaks.append((_status_kb("VmHWM") - rss0) / 1024)
            r = screen.last_results[0]
            rows, truncated = r.rows, r.truncated
        out["first_rows"] = stats(firsts)
        out["first_rows_ui_cpu"] = stats(first_cpu)
        out["first_rows_shown"] = rows
        out["first_rows_more"] = truncated
        out["rss_growth_mb"] = round(max(growth), 1)
        if peaks:
            out["rss_peak_growth_mb"] = round(max(peaks), 1)
        out["rss_total_mb"] = round(_status_kb("VmRSS") / 1024, 1)

        # -- cancel a long query -------------------------------------------------------------
        ui_ms: list[float] = []
        stop_ms: list[float] = []
        refreshes: list[int] = []
        for _ in range(max(2, repeat // 2)):
            screen.editor.load_text(LONG_QUERY)
            await pilot.pause()
            await pilot.press("ctrl+j")
            await _until(lambda: screen.job is not None and screen.job.cursor is not None)
            before = app.refresh_count
            await pilot.pause(2.5)  # the dashboard keeps refreshing underneath
            refreshes.append(app.refresh_count - before)
            if screen.job is None:
                raise RuntimeError("the long query finished before it was cancelled")
            n = len(screen.editor.text)
            t0 = time.perf_counter()
            app.post_message(events.Key("escape", None))
            await _until(lambda: screen.job is None)
            # control is back when the editor takes a key again
            app.post_message(events.Key("x", "x"))
            await _until(lambda n=n: len(screen.editor.text) == n + 1)
            ui_ms.append((time.perf_counter() - t0) * 1000)
            await _until(
                lambda: not [w for w in app.workers if w.group == "console-query"], timeout=30
            )
            stop_ms.append((time.perf_counter() - t0) * 1000)
        out["cancel_control_back"] = stats(ui_ms)
        out["cancel_query_stopped"] = stats(stop_ms)
        out["overview_refreshes_during_2_5s_query"] = statistics.median(refreshes)
    app.db.close()
    return out


def _calibration() -> dict[str, float]:
    """How fast this machine runs plain Python right now (a busy shared box is several times
    slower): a 3M-iteration loop, about 135 ms of wall and CPU on an idle core of this class."""
    c0, t0 = time.thread_time(), time.perf_counter()
    s = 0
    for i in range(3_000_000):
        s += i
    return {
        "loop_3m_wall_ms": round((time.perf_counter() - t0) * 1000, 1),
        "loop_3m_cpu_ms": round((time.thread_time() - c0) * 1000, 1),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def _database(ctx: Any) -> Path:
    env = os.environ.get("ECOTOP_BENCH_CONSOLE_DB")
    if env:
        return Path(env)
    return ctx.database()


def run(ctx: Any) -> dict[str, Any]:
    path = _database(ctx)
    repeat = 3 if ctx.quick else 7
    saved = {k: os.environ.get(k) for k in ("XDG_STATE_HOME",)}
    with tempfile.TemporaryDirectory(prefix="ecotop-bench-") as tmp:
        os.environ["XDG_STATE_HOME"] = tmp
        try:
            result = asyncio.run(_measure(path, repeat))
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    result["scale"] = ctx.scale
    result["machine"] = _calibration()
    return result
