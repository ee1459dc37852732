"""The dashboard's command line: bad input gets one line and the right exit code; files stay unchanged."""

from __future__ import annotations

import hashlib
import os
import pty
import select
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import dashboard_data
import pytest
from click.testing import CliRunner

from ecotop.tui.cli import main

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def tiny_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return dashboard_data.build(tmp_path_factory.mktemp("cli") / "tiny.duckdb")


def run(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


@dataclass
class TtyResult:
    exit_code: int
    stderr: str
    output: str


def _env(home: Path | None = None, **extra: str) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("ECOTOP_")}
    if home is not None:
        e["HOME"] = str(home)
        e["XDG_DATA_HOME"] = str(home / "data")
        e["XDG_CONFIG_HOME"] = str(home / "config")
    return {**e, **extra}


def run_tty(*args: str, env: dict[str, str] | None = None) -> TtyResult:
    """`ecotop ARGS` as a real process on a terminal (a pty on stdin and stdout, stderr piped): the
    dashboard refuses to start without one, so the errors it finds after that check need it."""
    master, slave = pty.openpty()
    try:
        p = subprocess.run(
            [sys.executable, "-m", "ecotop.tui.cli", *args],
            stdin=slave,
            stdout=slave,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=env or _env(),
            timeout=120,
        )
    finally:
        os.close(slave)
    out = b""
    while select.select([master], [], [], 0.1)[0]:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    return TtyResult(p.returncode, p.stderr, out.decode(errors="replace") + p.stderr)


def one_line_error(result) -> str:
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    return lines[0]


def test_unknown_range_is_a_usage_error(tiny_db: Path) -> None:
    result = run("--range", "2h", str(tiny_db))
    assert result.exit_code == 2
    assert "unknown time range '2h'" in result.stderr
    assert "15m, 1h, 24h, 7d, 30d" in result.stderr


def test_bad_refresh_is_a_usage_error(tiny_db: Path) -> None:
    assert run("--refresh", "0", str(tiny_db)).exit_code == 2
    assert run("--refresh", "soon", str(tiny_db)).exit_code == 2


def test_missing_file_is_one_line_and_exit_1(tmp_path: Path) -> None:
    result = run_tty(str(tmp_path / "nope.duckdb"))
    assert result.exit_code == 1
    assert "no such file" in one_line_error(result)
    assert not (tmp_path / "nope.duckdb").exists()


def test_damaged_file_is_one_line_and_exit_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.duckdb"
    bad.write_bytes(b"this is not a database at all" * 100)
    result = run_tty(str(bad))
    assert result.exit_code == 1
    assert str(bad) in one_line_error(result)


def test_foreign_duckdb_file_is_one_line_and_exit_1(tmp_path: Path) -> None:
    foreign = tmp_path / "other.duckdb"
    code = (
        f"import duckdb; c = duckdb.connect({str(foreign)!r}); c.execute('CREATE TABLE t(x INT)')"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    result = run_tty(str(foreign))
    assert result.exit_code == 1
    assert "not an ecotop database" in one_line_error(result)


def test_bad_config_file_is_one_line_and_exit_1(tiny_db: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text('range = "1h"\nrefresh = [\n')
    result = run_tty("--config", str(cfg), str(tiny_db))
    assert result.exit_code == 1
    assert str(cfg) in one_line_error(result)


def test_unknown_setting_in_config_names_the_line(tiny_db: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text('range = "1h"\nrefersh = 2\n')
    result = run_tty("--config", str(cfg), str(tiny_db))
    assert result.exit_code == 1
    assert f"{cfg}:2" in one_line_error(result)


def test_live_refuses_a_file_generate_did_not_make(tmp_path: Path) -> None:
    real = dashboard_data.build(tmp_path / "real.duckdb", generated=False)
    before = real.read_bytes()
    result = run_tty("--live", str(real))
    assert result.exit_code == 1
    assert "not made by `ecotop generate`" in one_line_error(result)
    assert real.read_bytes() == before


def test_rate_without_live_on_a_file_is_a_usage_error(tiny_db: Path) -> None:
    assert run("--rate", "10", str(tiny_db)).exit_code == 2


@pytest.mark.slow
def test_a_file_held_by_another_process_names_its_pid(tmp_path: Path) -> None:
    held = dashboard_data.build(tmp_path / "held.duckdb")
    code = textwrap.dedent(
        f"""
        import sys, time
        from ecotop.store import open_db
        db = open_db({str(held)!r}, write=True)
        print("ready", flush=True)
        sys.stdin.readline()
        """
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        result = run_tty(str(held))
        assert result.exit_code == 1
        line = one_line_error(result)
        assert f"process {holder.pid}" in line
    finally:
        holder.stdin.close()
        holder.wait(10)


@pytest.mark.slow
async def test_opening_a_file_never_writes_to_it(tmp_path: Path) -> None:
    from ecotop.tui.app import make_app

    path = dashboard_data.build(tmp_path / "ro.duckdb")
    os.chmod(path, 0o644)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    mtime = path.stat().st_mtime_ns
    files = sorted(p.name for p in tmp_path.iterdir())
    app = make_app(path, rules=None, refresh_s=0.1)
    assert app.db.read_only and app.feed is None
    async with app.run_test() as pilot:
        await pilot.pause(0.5)
        for key in ("t", "1", "escape", "r", "p", "p", "a", "escape", "question_mark", "escape"):
            await pilot.press(key)
        await pilot.pause(0.5)
        await pilot.press("q")
    app.db.close()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    assert path.stat().st_mtime_ns == mtime
    assert sorted(p.name for p in tmp_path.iterdir()) == files  # no .wal, no socket


def test_help_lists_the_dashboard_options() -> None:
    result = run("dashboard", "--help")
    assert result.exit_code == 0
    for opt in ("--range", "--refresh", "--config", "--live", "--rate", "--seed", "--no-mouse"):
        assert opt in result.output


def test_a_demo_this_build_cannot_read_is_made_again(tmp_path: Path, monkeypatch) -> None:
    import ecotop.tui.app as app_module
    import ecotop.tui.commands.dashboard as dash
    from ecotop.store import create_db

    demo = tmp_path / "demo.duckdb"
    create_db(demo, version=1).close()  # an old demo: schema version 1
    monkeypatch.setattr(app_module, "demo_path", lambda: demo)
    made: list[Path] = []

    def fake_ensure(path: Path, **kw) -> Path:  # the real one generates at scale 0.02
        if not path.exists():
            dashboard_data.build(path)
            made.append(path)
        return path

    monkeypatch.setattr(dash, "ensure_demo", fake_ensure)
    app = dash.open_demo(rules=())
    try:
        assert made == [demo]
        assert app.live and not app.db.read_only and app.feed is not None
    finally:
        app.db.close()


@pytest.mark.parametrize("args", [[], ["FILE"]])
def test_not_a_terminal_is_refused_before_any_file(tiny_db: Path, tmp_path: Path, args) -> None:
    """`ecotop | head` (or cron) must not make the demo database and run blind: one line, exit 2."""
    home = tmp_path / "home"
    home.mkdir()
    argv = [str(tiny_db) if a == "FILE" else a for a in args]
    mtime = tiny_db.stat().st_mtime_ns
    p = subprocess.run(
        [sys.executable, "-m", "ecotop.tui.cli", *argv],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=_env(home),
        timeout=60,
    )
    assert p.returncode == 2, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "terminal" in lines[0], p.stderr
    assert p.stdout == ""
    assert list(home.rglob("*")) == []  # no demo database, no data directory
    assert tiny_db.stat().st_mtime_ns == mtime


def test_mistyped_command_suggests_the_command(tiny_db: Path) -> None:
    result = run("kpi", str(tiny_db))
    assert result.exit_code == 2
    assert "no command 'kpi' (did you mean kpis?)" in one_line_error(result)
    result = run("chek", str(tiny_db), "--json")
    assert result.exit_code == 2
    assert "no command 'chek' (did you mean check?)" in one_line_error(result)


@pytest.mark.parametrize("other", [["--live"], ["--spool", "SPOOL"]])
def test_read_only_refuses_live_and_spool(tiny_db: Path, tmp_path: Path, other) -> None:
    argv = [str(tmp_path) if a == "SPOOL" else a for a in other]
    result = run(str(tiny_db), "--read-only", *argv)
    assert result.exit_code == 2
    line = one_line_error(result)
    assert "--read-only" in line and other[0] in line


@pytest.mark.slow
def test_read_only_is_accepted_and_opens_the_file(tiny_db: Path, tmp_path: Path) -> None:
    """`ecotop FILE --read-only` (a harlequin habit) opens the dashboard, which `q` closes."""
    master, slave = pty.openpty()
    import fcntl
    import struct
    import termios

    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    digest = hashlib.sha256(tiny_db.read_bytes()).hexdigest()
    proc = subprocess.Popen(
        [sys.executable, "-m", "ecotop.tui.cli", str(tiny_db), "--read-only"],
        stdin=slave,
        stdout=slave,
        stderr=slave,  # Textual draws on stderr
        cwd=ROOT,
        env=_env(tmp_path / "home", TERM="xterm-256color"),
    )
    os.close(slave)
    seen = b""
    try:
        deadline = time.monotonic() + 60
        while b"WeCom" not in seen and time.monotonic() < deadline:
            if select.select([master], [], [], 0.2)[0]:
                try:
                    seen += os.read(master, 65536)
                except OSError:
                    break
        assert b"WeCom" in seen, seen[-500:]
        os.write(master, b"q")
        deadline = time.monotonic() + 20
        while proc.poll() is None and time.monotonic() < deadline:
            if select.select([master], [], [], 0.2)[0]:
                try:
                    os.read(master, 65536)
                except OSError:
                    break
        assert proc.wait(5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    assert hashlib.sha256(tiny_db.read_bytes()).hexdigest() == digest
