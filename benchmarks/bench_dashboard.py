"""The dashboard, measured as a person runs it: first screen, refresh, CPU, memory, terminal bytes.

- first_screen: `ecotop FILE` started in tmux at 120x40; capture-pane is polled every 20 ms until
  the status bar shows the data's time and no tile shows the "…" placeholder. Launch to that moment,
  after one warm-up run (warm page cache), median of 5. Includes interpreter start and imports.
- refresh: in-process (`make_app` + `run_test` at 120x40, no alert rules), every overview refresh's
  worker time (queries of every tile and the trends, on its own cursor) over N cycles: p50/p95, with
  the re-use of results for read-only files turned off. The default alert rules' own time, separately.
- cpu / memory / bytes: `ecotop FILE` in a pty of 120x40 (TERM=xterm-256color, COLORTERM=truecolor),
  output read and counted; CPU from /proc/PID/stat over a 10 s window: paused without ingest, and
  refreshing every second; resident memory (VmRSS, VmHWM) at the end; bytes written to the terminal
  per second at a 1 s refresh, with unchanged data and, when the simulator is available, with live
  data (`--live` on a copy of a generated file).

`ECOTOP_BENCH_FILE` points at an existing file instead of ctx.database() (e.g. a synthetic file).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import pty
import shlex
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks.common import ROOT, row, stats

COLS, ROWS = 120, 40
ECOTOP = [sys.executable, "-m", "ecotop.tui.cli"]


def _file(ctx: Any) -> Path:
    env = os.environ.get("ECOTOP_BENCH_FILE")
    return Path(env) if env else ctx.database()


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(TERM="xterm-256color", COLORTERM="truecolor", PYTHONPATH=str(ROOT))
    env.pop("NO_COLOR", None)
    env.update(extra)
    return env


# -- first screen in tmux ----------------------------------------------------------------------


def _tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=False).stdout


def _filled(screen: str) -> bool:
    lines = screen.splitlines()
    return bool(lines) and "data to" in lines[0] and "…" not in screen and "│" in screen


# The floor for start-up: a bare Textual app painting seven static panels (the anchor of the first
# screen, measured in the same run the same way).
BARE_TEXTUAL = """
from textual.app import App
from textual.containers import Grid
from textual.widgets import Static
class Bare(App):
    CSS = "Grid { grid-size: 4 2; } Static { border: round white; height: 1fr; }"
    def compose(self):
        with Grid():
            for i in range(7):
                yield Static(f"panel {i} READY")
Bare().run()
"""


def _bare_filled(screen: str) -> bool:
    return screen.count("READY") >= 7


def bare_textual(repeat: int = 5) -> dict[str, Any]:
    """The anchor: launch to seven painted static panels, in tmux like first_screen."""
    cmd = " ".join([sys.executable, "-c", shlex.quote(BARE_TEXTUAL)])
    return first_screen(Path("."), repeat, cmd=cmd, filled=_bare_filled)


def first_screen(
    path: Path,
    repeat: int = 5,
    timeout: float = 30.0,
    *,
    cmd: str | None = None,
    filled: Any = None,
) -> dict[str, Any]:
    if shutil.which("tmux") is None:
        return {"error": "tmux not installed"}
    samples: list[float] = []
    cpu: list[float] = []
    name = f"ecotop-bench-{os.getpid()}"
    cmd = cmd or " ".join([*ECOTOP, "--refresh", "60", str(path)])
    filled = filled or _filled
    for i in range(repeat + 1):  # the first run warms the page cache and is not counted
        _tmux("kill-session", "-t", name)
        t0 = time.perf_counter()
        _tmux(
            "new-session", "-d", "-s", name, "-x", str(COLS), "-y", str(ROWS),
            "-e", f"PYTHONPATH={ROOT}", f"cd {ROOT} && exec {cmd}",
        )  # fmt: skip
        elapsed = None
        cpu_ms = None
        while time.perf_counter() - t0 < timeout:
            if filled(_tmux("capture-pane", "-p", "-t", name)):
                elapsed = (time.perf_counter() - t0) * 1000
                cpu_ms = _cpu_ms(_tmux("display", "-p", "-t", name, "#{pane_pid}").strip())
                break
            time.sleep(0.02)
        _tmux("send-keys", "-t", name, "q")
        time.sleep(0.3)
        _tmux("kill-session", "-t", name)
        if elapsed is None:
            return {"error": f"no filled screen within {timeout:g}s"}
        if i:
            samples.append(elapsed)
            if cpu_ms is not None:
                cpu.append(cpu_ms)
    out: dict[str, Any] = {**stats(samples), "how": "tmux 120x40, capture-pane polled every 20 ms"}
    if cpu:
        # CPU the process used until then: what the launch costs when the machine is not shared
        out["process_cpu_ms"] = stats(cpu)
    out["loadavg_1m"] = float(Path("/proc/loadavg").read_text().split()[0])
    return out


def _cpu_ms(pid: str) -> float | None:
    try:
        fields = Path(f"/proc/{int(pid)}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, ValueError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK") * 1000


# -- refresh through the worker path -----------------------------------------------------------


def refresh(path: Path, cycles: int = 30, with_alerts: bool = True) -> dict[str, Any]:
    from ecotop.tui.app import make_app

    async def measure(rules: Any, n: int, alert_every: float) -> list[tuple[float, float]]:
        app = make_app(path, rules=rules, refresh_s=0.1, alert_every_s=alert_every, watchdog=False)
        app.immutable = False  # measure the queries every cycle (a read-only file re-uses results)
        async with app.run_test(size=(COLS, ROWS)) as pilot:
            deadline = time.monotonic() + 600
            while app.refresh_count < n + 1 and time.monotonic() < deadline:
                await pilot.pause(0.05)
            log = list(app.refresh_log)[1:]  # the first cycle runs while the screen mounts
        app.db.close()
        return log

    out: dict[str, Any] = {}
    plain = asyncio.run(measure((), cycles, 0))
    out["overview"] = stats([ms for ms, _ in plain])
    if with_alerts:
        from ecotop.queries.alerts import default_rules

        mixed = asyncio.run(measure(tuple(default_rules()), max(6, cycles // 3), 0))
        judged = [a for _, a in mixed if a > 0]
        if judged:
            out["default_alert_rules"] = stats(judged)
    out["how"] = "in-process, worker time of each cycle (fetch on its own cursor)"
    return out


# -- a real process in a pty -------------------------------------------------------------------


class PtyRun:
    """`ecotop ARGS` on a pty of COLS x ROWS; every byte it writes is counted (and discarded)."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None) -> None:
        pid, fd = pty.fork()
        if pid == 0:  # child
            os.chdir(ROOT)
            os.execvpe(ECOTOP[0], [*ECOTOP, *args], env or _env())
        self.pid, self.fd = pid, fd
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
        os.kill(pid, signal.SIGWINCH)
        self.bytes = 0
        self.tail = b""
        self._stop = False
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop:
            try:
                data = os.read(self.fd, 65536)
            except OSError:
                return
            if not data:
                return
            self.bytes += len(data)
            self.tail = (self.tail + data)[-20000:]

    def send(self, keys: str) -> None:
        os.write(self.fd, keys.encode())

    def cpu_s(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def memory(self) -> dict[str, float]:
        out = {}
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = round(int(value.split()[0]) / 1024, 1)
        return out

    def wait_for(self, text: str, timeout: float = 60.0) -> bool:
        """Wait until `text` shows in the recent output (e.g. the status bar's "refreshed")."""
        import re

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            plain = re.sub(rb"\x1b\[[0-9;?<>=$]*[A-Za-z]", b"", self.tail)
            if text.encode() in plain:
                return True
            time.sleep(0.1)
        return False

    def window(self, seconds: float) -> dict[str, float]:
        """CPU % of one core and terminal bytes/s over the next `seconds`."""
        c0, b0, t0 = self.cpu_s(), self.bytes, time.monotonic()
        time.sleep(seconds)
        c1, b1, t1 = self.cpu_s(), self.bytes, time.monotonic()
        return {
            "cpu_percent": round((c1 - c0) / (t1 - t0) * 100, 2),
            "bytes_per_s": round((b1 - b0) / (t1 - t0), 1),
            "kib_per_s": round((b1 - b0) / (t1 - t0) / 1024, 2),
        }

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.send("q")
        for _ in range(50):
            pid, _ = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                break
            time.sleep(0.1)
        else:
            with contextlib.suppress(OSError):
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
        self._stop = True
        with contextlib.suppress(OSError):
            os.close(self.fd)


def process(path: Path, seconds: float = 10.0, settle: float = 4.0) -> dict[str, Any]:
    out: dict[str, Any] = {"how": f"pty {COLS}x{ROWS}, truecolor, {seconds:g}s windows"}
    run = PtyRun(["--refresh", "1", str(path)])
    try:
        run.wait_for("refreshed")
        time.sleep(settle)
        out["refresh_1s_unchanged_data"] = run.window(seconds)
        run.send("p")
        time.sleep(1.0)
        out["paused_no_ingest"] = run.window(seconds)
        out["memory_mb"] = run.memory()
    finally:
        run.stop()
    return out


def live(ctx: Any, path: Path, seconds: float = 10.0, settle: float = 5.0) -> dict[str, Any]:
    """`--live` on a copy of the benchmark file (a generated one; else a scale-0.05 file)."""
    import importlib.util

    if importlib.util.find_spec("ecotop.sample_data.live") is None:
        return {"error": "ecotop.sample_data.live is not available yet"}
    from ecotop.store import open_db

    with open_db(path) as db:
        src = path if db.generated else ctx.database(0.05)
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        copy = Path(tmp) / "live.duckdb"
        shutil.copy(src, copy)
        run = PtyRun(["--live", "--refresh", "1", str(copy)])
        try:
            run.wait_for("refreshed")
            time.sleep(settle)
            out = {"refresh_1s_live": run.window(seconds), "memory_mb": run.memory()}
            if run.wait_for("live feed stopped", timeout=0.1):
                out["error"] = "the live feed stopped (see the status bar): numbers are not live"
            run.send("p")
            time.sleep(1.0)
            out["paused_with_ingest"] = run.window(seconds)
        finally:
            run.stop()
    out["file"] = f"copy of {src.name}"
    return out


def run(ctx: Any) -> dict[str, Any]:
    path = _file(ctx)
    out: dict[str, Any] = {"file": str(path), "size_mb": round(path.stat().st_size / 2**20)}
    out["first_screen"] = first_screen(path, repeat=3 if ctx.quick else 5)
    out["bare_textual"] = bare_textual(repeat=3 if ctx.quick else 5)
    out["refresh"] = refresh(path, cycles=15 if ctx.quick else 40)
    out["process"] = process(path, seconds=5 if ctx.quick else 10)
    out["live"] = live(ctx, path, seconds=5 if ctx.quick else 10)
    out["rows"] = _rows(out)
    return out


def _rows(out: dict[str, Any]) -> list[dict[str, Any]]:
    area = "Dashboard"
    rows = []
    fs, bare = out.get("first_screen", {}), out.get("bare_textual", {})
    if "median_ms" in fs:
        rows.append(
            row(area, "first full screen, tmux 120x40 (median)", "<= 0.5x harlequin",
                fs["median_ms"], anchor=bare.get("median_ms"),
                anchor_what="bare Textual app, seven static panels",
                cpu=(fs.get("process_cpu_ms") or {}).get("median_ms"),
                note="harlequin not installed here: anchor is the Textual floor")
        )  # fmt: skip
    ov = (out.get("refresh") or {}).get("overview")
    if ov:
        rows.append(
            row(area, "overview refresh, worker time per cycle (p95)", "<= 40 ms", ov["p95_ms"],
                ok=ov["p95_ms"] <= 40)
        )  # fmt: skip
    al = (out.get("refresh") or {}).get("default_alert_rules")
    if al:
        rows.append(row(area, "default alert rules, judged apart (p95)", "off the refresh path",
                        al["p95_ms"]))  # fmt: skip
    for key, label in (("refresh_1s_unchanged_data", "refreshing every 1 s, unchanged data"),
                       ("paused_no_ingest", "paused")):  # fmt: skip
        r = (out.get("process") or {}).get(key)
        if r:
            rows.append(
                row(area, f"CPU, dashboard {label}", "<= 10% of a core", r["cpu_percent"],
                    unit="%", ok=r["cpu_percent"] <= 10)
            )  # fmt: skip
    lv = (out.get("live") or {}).get("refresh_1s_live")
    if lv:
        rows.append(
            row(area, "CPU, dashboard refreshing every 1 s on live data (--live)",
                "<= 10% of a core", lv["cpu_percent"], unit="%", ok=lv["cpu_percent"] <= 10)
        )  # fmt: skip
    return rows
