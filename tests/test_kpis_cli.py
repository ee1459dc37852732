"""`ecotop kpis FILE` as a script sees it: the JSON and CSV contracts, the table, exit codes, pipes."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from test_queries_data import TINY_1H, tiny_db

from ecotop.queries.measures import MEASURES
from ecotop.tui.cli import main

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_db(tmp_path_factory.mktemp("kpis") / "tiny.duckdb")


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_db(tmp_path_factory.mktemp("kpis") / "fresh.duckdb", fresh_only=True)


def run(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(main, ["kpis", *args], env=env or {"ECOTOP_DISPLAY_ZONE": ""})


def test_json_contract(tiny: Path) -> None:
    res = run(str(tiny), "--json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert set(data) == {"range", "baseline", "as_of", "pillars"}
    assert data["range"] == "1h"
    assert data["baseline"] == "previous"  # the headless default keeps scripts' meaning
    assert data["as_of"] == "2026-11-20T12:00:00+08:00"  # the display zone's offset
    want: dict[str, set[str]] = {}
    for m in MEASURES:
        want.setdefault(m.pillar, set()).add(m.key)
    assert {p: set(ms) for p, ms in data["pillars"].items()} == want
    for pillar, ms in data["pillars"].items():
        for key, obj in ms.items():
            assert set(obj) == {"value", "previous"}, (pillar, key)
            value, previous = TINY_1H[f"{pillar}.{key}"]
            got = obj["value"]
            if value is None:
                assert got is None
            else:
                assert isinstance(got, int | float) and not isinstance(got, bool)
                assert got == pytest.approx(float(value)), (pillar, key)
            if previous is None:
                assert obj["previous"] is None, (pillar, key)
    rates = [m for m in MEASURES if m.kind == "rate"]
    for m in rates:
        v = data["pillars"][m.pillar][m.key]["value"]
        assert v is None or 0.0 <= v <= 1.0, m.id
    assert data["pillars"]["pay"]["gmv"] == {"value": 70.5, "previous": 5.0}  # CNY numbers


@pytest.mark.parametrize("baseline", ["previous", "day", "week"])
def test_baseline_says_what_previous_is(tiny: Path, baseline: str) -> None:
    """#11: `--baseline day|week` compares with the same window a day or a week earlier; the JSON
    says which at the top, the CSV in a column, the table in its first line; the numbers are the
    query layer's for that baseline."""
    from ecotop.queries import kpis as compute
    from ecotop.store import open_db

    res = run(str(tiny), "--json", "--range", "1h", "--baseline", baseline)
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["baseline"] == baseline
    db = open_db(tiny)
    try:
        want = compute(db.cursor(), "1h", baseline=baseline)
    finally:
        db.close()
    for pillar, ms in data["pillars"].items():
        for key, obj in ms.items():
            prev = want.pillars[pillar][key].previous
            if prev is None:
                assert obj["previous"] is None, (pillar, key)
            else:
                assert obj["previous"] == pytest.approx(float(prev)), (pillar, key)
    rows = list(csv.DictReader(io.StringIO(run(str(tiny), "--csv", "--baseline", baseline).stdout)))
    assert {r["baseline"] for r in rows} == {baseline}
    first = run(str(tiny), "--baseline", baseline).stdout.splitlines()[0]
    assert {"previous": "previous window", "day": "a day earlier", "week": "a week earlier"}[
        baseline
    ] in first


def test_unknown_baseline_is_a_usage_error(tiny: Path) -> None:
    res = run(str(tiny), "--baseline", "month")
    assert res.exit_code == 2 and "month" in res.stderr


def test_json_previous_is_null_without_data(fresh: Path) -> None:
    res = run(str(fresh), "--json", "--range", "1h")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    prevs = [obj["previous"] for ms in data["pillars"].values() for obj in ms.values()]
    assert prevs and all(p is None for p in prevs)
    assert data["pillars"]["pay"]["transactions"]["value"] == 3


def test_display_zone_from_the_environment(tiny: Path) -> None:
    res = run(str(tiny), "--json", env={"ECOTOP_DISPLAY_ZONE": "Europe/London"})
    assert json.loads(res.stdout)["as_of"] == "2026-11-20T04:00:00+00:00"
    bad = run(str(tiny), "--json", env={"ECOTOP_DISPLAY_ZONE": "Mars/Olympus"})
    assert bad.exit_code == 1 and "unknown time zone" in bad.stderr


def test_csv_one_row_per_measure(tiny: Path) -> None:
    res = run(str(tiny), "--csv", "--range", "24h")
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert list(rows[0]) == [
        "range",
        "as_of",
        "pillar",
        "measure",
        "value",
        "previous",
        "change",
        "approx",
        "baseline",
    ]
    assert {r["baseline"] for r in rows} == {"previous"}
    assert len(rows) == len(MEASURES)
    assert {(r["pillar"], r["measure"]) for r in rows} == {(m.pillar, m.key) for m in MEASURES}
    gmv = next(r for r in rows if r["pillar"] == "pay" and r["measure"] == "gmv")
    assert Decimal(gmv["value"]) == Decimal("75.5") and gmv["range"] == "24h"
    assert all(r["approx"] == "false" for r in rows)
    monthly = list(csv.DictReader(io.StringIO(run(str(tiny), "--csv", "--range", "30d").stdout)))
    assert {r["measure"] for r in monthly if r["approx"] == "true"} >= {"dau", "payers"}


def test_table_is_aligned_and_marks_changes(tiny: Path) -> None:
    res = run(str(tiny))
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert lines[0].startswith("range 1h, window ending 2026-11-20T12:00:00+08:00")
    assert lines[1].split() == ["pillar", "measure", "value", "previous", "change"]
    body = lines[2 : 2 + len(MEASURES)]
    assert len({len(line) for line in body if line.rstrip().endswith(("%", "pp", "—"))}) <= 3
    text = res.stdout
    # written as the tiles write them (#11: one format, CLI == screen)
    assert "▲ 200.0%" in text  # 3 transactions against 1
    assert "▼ 25.0pp" in text  # success rate 75% against 100%
    assert "¥70.50" in text and "75.00%" in text
    month = run(str(tiny), "--range", "30d").stdout
    assert "≈" in month


def test_usage_and_file_errors(tiny: Path, tmp_path: Path) -> None:
    res = run(str(tiny), "--range", "2h")
    assert res.exit_code == 2
    for allowed in ("15m", "1h", "24h", "7d", "30d"):
        assert allowed in res.stderr
    both = run(str(tiny), "--json", "--csv")
    assert both.exit_code == 2
    missing = run(str(tmp_path / "nope.duckdb"))
    assert missing.exit_code == 1
    assert missing.stderr.count("\n") == 1 and "no such file" in missing.stderr
    foreign = tmp_path / "foreign.duckdb"
    foreign.write_text("not a database at all\n")
    res = run(str(foreign))
    assert res.exit_code == 1 and res.stderr.count("\n") == 1


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("ECOTOP_DISPLAY_ZONE", None)
    return env


@pytest.mark.slow
def test_locked_file_is_one_line_and_exit_1(tiny: Path, tmp_path: Path) -> None:
    locked = tmp_path / "locked.duckdb"
    locked.write_bytes(tiny.read_bytes())
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('ok', flush=True); "
            "time.sleep(60)",
            str(locked),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ok"
        res = subprocess.run(
            [sys.executable, "-m", "ecotop.tui.cli", "kpis", str(locked)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=_env(),
            timeout=60,
        )
    finally:
        holder.kill()
        holder.wait()
    assert res.returncode == 1, res.stderr
    assert res.stderr.count("\n") == 1 and "locked" in res.stderr
    assert res.stdout == ""


def test_a_closed_pipe_ends_quietly(tiny: Path) -> None:
    proc = subprocess.Popen(
        f"{sys.executable} -m tui.cli kpis {tiny} --csv | head -2",
        shell=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=_env(),
    )
    out, err = proc.communicate(timeout=60)
    assert len(out.splitlines()) == 2
    assert err == ""


def test_the_process_imports_nothing_heavy(tiny: Path) -> None:
    code = (
        "import sys\n"
        "from ecotop.tui.cli import main\n"
        "try:\n"
        f"    main(['kpis', {str(tiny)!r}, '--json'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'textual', 'rich', 'polars', 'pandas'})\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    t0 = time.perf_counter()
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=_env()
    )
    assert time.perf_counter() - t0 < 30
    assert "HEAVY []" in res.stderr, res.stderr
    assert json.loads(res.stdout)["range"] == "1h"
