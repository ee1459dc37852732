"""`ecotop check` as a real process: monitoring-plugin exit codes, text and JSON output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import alert_data as ad
import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("check")
    return {
        "ok": ad.build(d / "ok.duckdb"),
        "warning": ad.build(
            d / "warning.duckdb",
            now=[
                ad.Pay(per_min=200, refund_every=12),
                ad.Pay(entry="mini_program", per_min=200, refund_every=12),
            ],
        ),
        "critical": ad.build(
            d / "critical.duckdb",
            now=[ad.Pay(fail_every=25), ad.Pay(entry="mini_program", fail_every=25)],
        ),
        # Live data that stopped arriving ten minutes ago.
        "stale": ad.build(
            d / "stale.duckdb",
            end=datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=10),
        ),
        "dir": d,
    }


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The process environment with config directories of its own and no ECOTOP_* settings."""
    e = {k: v for k, v in os.environ.items() if not k.startswith("ECOTOP_")}
    e["XDG_CONFIG_HOME"] = str(tmp_path / "home")
    e["XDG_CONFIG_DIRS"] = str(tmp_path / "sys")
    return e


def check(*args: str | Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ecotop.tui.cli", "check", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )


@pytest.mark.slow
def test_ok_exits_0(files, env) -> None:
    p = check(files["ok"], env=env)
    assert p.returncode == 0, p.stdout + p.stderr
    lines = p.stdout.splitlines()
    assert lines[0].startswith("ECOTOP OK - ")
    assert "'pay.success_rate'=" in lines[0] and ";99.3:;99:" in lines[0]  # perfdata
    assert any(line.startswith("OK pay.success_rate ") for line in lines[1:])
    assert any(line.startswith("OK * ") for line in lines[1:])
    assert p.stderr == ""


@pytest.mark.slow
def test_warning_exits_1(files, env) -> None:
    p = check(files["warning"], env=env)
    assert p.returncode == 1, p.stdout + p.stderr
    assert p.stdout.startswith("ECOTOP WARNING - ")
    assert "WARNING pay.refund_rate 8." in p.stdout


def test_critical_exits_2_and_the_worst_state_wins(files, env) -> None:
    p = check(files["critical"], env=env)
    assert p.returncode == 2, p.stdout + p.stderr
    assert p.stdout.startswith("ECOTOP CRITICAL - pay.success_rate 96.00% (critical 99.00%)")
    assert "\nCRITICAL pay.success_rate 96.00% (critical 99.00%)\n" in p.stdout


def test_stale_live_data_exits_2(files, env) -> None:
    p = check(files["stale"], "--live", "--rule", "stale", env=env)
    assert p.returncode == 2, p.stdout + p.stderr
    assert "CRITICAL stale no new data for 1" in p.stdout  # 10m and some seconds
    p = check(files["stale"], "--rule", "stale", env=env)  # not live: not judged
    assert p.returncode == 0, p.stdout + p.stderr


def test_json_output(files, env) -> None:
    p = check(files["critical"], "--json", env=env)
    assert p.returncode == 2
    data = json.loads(p.stdout)
    assert (data["state"], data["exit_code"], data["live"]) == ("CRITICAL", 2, False)
    assert data["counts"]["CRITICAL"] >= 1
    psr = next(r for r in data["results"] if r["rule"] == "pay_success_rate")
    assert psr["state"] == "CRITICAL"
    assert psr["value"] == pytest.approx(0.96, abs=0.002)
    assert (psr["threshold"], psr["warning"], psr["critical"]) == (0.99, 0.993, 0.99)


def test_config_file_changes_the_rules(files, env, tmp_path) -> None:
    cfg = tmp_path / "strict.toml"
    cfg.write_text(
        '[alerts.pay_success_rate]\ncritical = "99.95%"\nwarning = false\nconfidence = 0\n'
    )
    p = check(files["ok"], "--config", cfg, "--rule", "pay_success_rate", env=env)
    assert p.returncode == 2, p.stdout + p.stderr
    relaxed = tmp_path / "relaxed.toml"
    relaxed.write_text('[alerts.pay_success_rate]\ncritical = "90%"\nwarning = "91%"\n')
    p = check(files["critical"], "--config", relaxed, "--rule", "pay_success_rate", env=env)
    assert p.returncode == 0, p.stdout + p.stderr


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        ("missing", "no such file"),
        ("not_duckdb", "not a DuckDB database"),
        ("bad_config", "invalid TOML"),
        ("unknown_rule", "no rule 'nope'"),
    ],
)
def test_problems_with_the_check_itself_are_unknown_3(
    files, env, tmp_path, setup, expected
) -> None:
    args: list[str | Path] = [files["ok"]]
    if setup == "missing":
        args = [tmp_path / "nope.duckdb"]
    elif setup == "not_duckdb":
        junk = tmp_path / "junk.duckdb"
        junk.write_text("hello\n" * 10)
        args = [junk]
    elif setup == "bad_config":
        bad = tmp_path / "bad.toml"
        bad.write_text("[alerts.stale]\ncritical = \n")
        args += ["--config", bad]
    elif setup == "unknown_rule":
        args += ["--rule", "nope"]
    p = check(*args, env=env)
    assert p.returncode == 3, p.stdout + p.stderr
    assert p.stdout.startswith("ECOTOP UNKNOWN - ")
    assert expected in p.stdout
    assert len(p.stderr.splitlines()) == 1 and p.stderr.startswith("ecotop: ")
    if setup == "bad_config":
        assert "bad.toml:2:" in p.stderr
    pj = check(*args, "--json", env=env)
    assert pj.returncode == 3
    data = json.loads(pj.stdout)
    assert data["state"] == "UNKNOWN" and expected in data["error"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["OK", "--bogus"], "no such option '--bogus'"),
        ([], "missing argument 'FILE'"),
        (["OK", "--rule"], "option '--rule' requires an argument"),
        (["OK", "extra"], "unexpected extra argument"),
    ],
)
def test_usage_errors_are_unknown_3(files, env, args, expected) -> None:
    """Issue #11 point 5: a check that cannot run because of how it was called is UNKNOWN (3), not
    2 (which a monitoring system reads as CRITICAL); the status line on stdout says why."""
    argv = [files["ok"] if a == "OK" else a for a in args]
    p = check(*argv, env=env)
    assert p.returncode == 3, p.stdout + p.stderr
    assert p.stdout.startswith("ECOTOP UNKNOWN - ")
    assert expected.lower() in p.stdout.lower()
    assert len(p.stdout.splitlines()) == 1
    assert "Traceback" not in p.stderr and p.stderr.strip()
    pj = check("--json", *argv, env=env)
    assert pj.returncode == 3
    assert json.loads(pj.stdout)["state"] == "UNKNOWN"


def test_user_config_file_is_read(files, env) -> None:
    user = Path(env["XDG_CONFIG_HOME"]) / "ecotop" / "config.toml"
    user.parent.mkdir(parents=True)
    user.write_text(
        '[alerts.pay_success_rate]\ncritical = "99.99%"\nwarning = false\nconfidence = 0\n'
    )
    p = check(files["ok"], "--rule", "pay_success_rate", env=env)
    assert p.returncode == 2, p.stdout + p.stderr
    user.write_text("refresh = -1\n")
    p = check(files["ok"], env=env)
    assert p.returncode == 3
    assert "config.toml:1: refresh: must be between" in p.stderr


@pytest.mark.slow
def test_locked_file_is_unknown_3(files, env, tmp_path) -> None:
    import shutil

    from ecotop.store import open_db

    path = tmp_path / "locked.duckdb"
    shutil.copy(files["ok"], path)
    db = open_db(path, write=True)  # this process holds the write lock
    try:
        p = check(path, env=env)
    finally:
        db.close()
    assert p.returncode == 3, p.stdout + p.stderr
    assert "locked by process" in p.stderr


def test_closed_pipe_is_quiet(files, env) -> None:
    p = subprocess.run(
        f"{sys.executable} -m tui.cli check '{files['critical']}' --json | head -c 1",
        shell=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert p.stdout == "{"
    assert p.stderr == ""


@pytest.mark.parametrize(
    ("baseline", "words"), [("day", "a day earlier"), ("previous", "the window before")]
)
@pytest.mark.slow
def test_baseline_says_what_change_rules_compare_with(files, env, baseline, words) -> None:
    """#11: `check --baseline` takes what `kpis --baseline` takes; the default stays a week (the
    rules' meaning), the JSON says which, and the change rules' lines name it."""
    default = check(files["ok"], "--json", env=env)
    assert json.loads(default.stdout)["baseline"] == "week"
    p = check(files["ok"], "--baseline", baseline, env=env)
    assert p.returncode in (0, 1, 2), p.stdout + p.stderr
    assert words in p.stdout and "a week earlier" not in p.stdout
    pj = check(files["ok"], "--baseline", baseline, "--json", env=env)
    data = json.loads(pj.stdout)
    assert data["baseline"] == baseline
    bad = check(files["ok"], "--baseline", "month", env=env)
    assert bad.returncode == 3 and bad.stdout.startswith("ECOTOP UNKNOWN - ")
