"""The dashboard's command line: bad input gets one line and the right exit code; files stay unchanged."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
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
    result = run(str(tmp_path / "nope.duckdb"))
    assert result.exit_code == 1
    assert "no such file" in one_line_error(result)
    assert not (tmp_path / "nope.duckdb").exists()


def test_damaged_file_is_one_line_and_exit_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.duckdb"
    bad.write_bytes(b"this is not a database at all" * 100)
    result = run(str(bad))
    assert result.exit_code == 1
    assert str(bad) in one_line_error(result)


def test_foreign_duckdb_file_is_one_line_and_exit_1(tmp_path: Path) -> None:
    foreign = tmp_path / "other.duckdb"
    code = (
        f"import duckdb; c = duckdb.connect({str(foreign)!r}); c.execute('CREATE TABLE t(x INT)')"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    result = run(str(foreign))
    assert result.exit_code == 1
    assert "not an ecotop database" in one_line_error(result)


def test_bad_config_file_is_one_line_and_exit_1(tiny_db: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text('range = "1h"\nrefresh = [\n')
    result = run("--config", str(cfg), str(tiny_db))
    assert result.exit_code == 1
    assert str(cfg) in one_line_error(result)


def test_unknown_setting_in_config_names_the_line(tiny_db: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text('range = "1h"\nrefersh = 2\n')
    result = run("--config", str(cfg), str(tiny_db))
    assert result.exit_code == 1
    assert f"{cfg}:2" in one_line_error(result)


def test_live_refuses_a_file_generate_did_not_make(tmp_path: Path) -> None:
    real = dashboard_data.build(tmp_path / "real.duckdb", generated=False)
    before = real.read_bytes()
    result = run("--live", str(real))
    assert result.exit_code == 1
    assert "not made by `ecotop generate`" in one_line_error(result)
    assert real.read_bytes() == before


def test_rate_without_live_on_a_file_is_a_usage_error(tiny_db: Path) -> None:
    assert run("--rate", "10", str(tiny_db)).exit_code == 2


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
        result = run(str(held))
        assert result.exit_code == 1
        line = one_line_error(result)
        assert f"process {holder.pid}" in line
    finally:
        holder.stdin.close()
        holder.wait(10)


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
