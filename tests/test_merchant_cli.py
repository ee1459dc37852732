"""`ecotop merchant FILE ID_OR_NAME`: the JSON shape, the text report, ambiguous and unknown names
(exit 1, the candidates on stderr), a bad range (exit 2), and no Textual imported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import merchant_data
import pytest
from click.testing import CliRunner

from ecotop.queries import merchant as M
from ecotop.queries.windows import window
from ecotop.store import open_db
from ecotop.tui.cli import main

END = merchant_data.END


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return merchant_data.build_tiny(tmp_path_factory.mktemp("mcli") / "tiny.duckdb")


def run(*args: str):
    return CliRunner().invoke(main, ["merchant", *args], catch_exceptions=False)


def test_json_shape_and_numbers(tiny_path: Path) -> None:
    r = run(str(tiny_path), "1", "--range", "24h", "--json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert set(d) == {
        "merchant",
        "range",
        "as_of",
        "window",
        "funnel",
        "measures",
        "repurchase",
        "trend",
        "entry_mix",
        "pay_score",
        "groups",
        "lives",
    }
    assert d["merchant"]["merchant_id"] == 1 and d["merchant"]["name"] == "Tea House"
    assert d["range"] == "24h"
    assert d["as_of"] == "2026-11-20T12:00:00+08:00"  # the display zone's offset
    assert [s["step"] for s in d["funnel"]] == [s for s, _ in M.STEPS]
    assert [s["position"] for s in d["funnel"]] == list(range(1, 10))
    for s in d["funnel"]:
        assert set(s) >= {"step", "label", "customers", "base", "converted", "conversion"}
    assert d["funnel"][0]["conversion"] is None
    m = d["measures"]
    assert set(m) == set(M.MEASURE_KINDS)
    assert set(m["gmv"]) == {"value", "previous", "change", "kind"}
    assert isinstance(m["gmv"]["value"], float) and 0 <= m["refund_rate"]["value"] <= 1
    # the same numbers as the query layer
    db = open_db(tiny_path)
    try:
        want = M.merchant_detail(db.cursor(), 1, window("24h", END))
    finally:
        db.close()
    assert m["gmv"]["value"] == float(want["measures"]["gmv"]["value"])
    assert [s["customers"] for s in d["funnel"]] == [s["customers"] for s in want["funnel"]]
    assert len(d["trend"]["current"]) == 24


def test_name_and_text_report(tiny_path: Path) -> None:
    r = run(str(tiny_path), "饺子")
    assert r.exit_code == 0, r.output
    assert "和源饺子馆·黄浦店 (#5, catering, Shanghai)" in r.stdout
    assert "closed loop" in r.stdout and "bought again" in r.stdout
    assert "placed an order" in r.stdout  # customers, never "Order" beside the Orders measure
    r = run(str(tiny_path), "100%", "--range", "7d")
    assert r.exit_code == 0 and "(#2," in r.stdout


def test_one_thing_is_singular(tiny_path: Path) -> None:
    """#11: `1 row`, `1 live`: merchant 1 has one live in the range."""
    r = run(str(tiny_path), "1", "--range", "7d")
    assert r.exit_code == 0, r.output
    assert "1 live," in r.stdout and "1 lives" not in r.stdout
    assert "2 groups," in r.stdout


def test_inactive_merchant_is_zeros_not_an_error(tiny_path: Path) -> None:
    r = run(str(tiny_path), "Sleepy Shop", "--json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert [s["customers"] for s in d["funnel"]] == [0] * 9
    assert d["measures"]["gmv"]["value"] == 0 and d["measures"]["aov"]["value"] is None


def _filter_matches(text: str) -> list[int]:
    """What the list's `/` filter keeps, computed independently: name, industry or city contains
    the text, ignoring case."""
    t = text.strip().lower()
    return [m for m, *fields in merchant_data.TINY_MERCHANTS if any(t in f.lower() for f in fields)]


def test_ambiguous_name_lists_candidates_and_exits_1(tiny_path: Path) -> None:
    r = run(str(tiny_path), "tea")
    assert r.exit_code == 1
    assert r.stdout == ""
    assert r.stderr.splitlines()[0].startswith("2 merchants match")
    assert "1\tTea House\tcatering\tShanghai" in r.stderr
    assert "7\tTea Garden\tcatering\tSuzhou" in r.stderr


@pytest.mark.parametrize("text", ["catering", "shanghai", "CATER", "e"])
def test_search_matches_what_the_list_filter_matches(tiny_path: Path, text: str) -> None:
    """Issue #11 point 8: the headless search matches industry and city like the list's `/`, says
    how many in plain digits, and lists the first --limit in the list's order (GMV, largest first)."""
    want = _filter_matches(text)
    assert len(want) > 1
    r = run(str(tiny_path), text, "--limit", "2", "--range", "7d")
    assert r.exit_code == 1, r.output
    lines = r.stderr.splitlines()
    assert lines[0].startswith(f"{len(want)} merchants match")
    listed = [int(line.split("\t")[0]) for line in lines[1:] if "\t" in line]
    assert len(listed) == 2 and set(listed) <= set(want)
    if 1 in want:
        assert listed[0] == 1  # merchant 1 has the largest GMV: the list's first row
    assert (f"{len(want) - 2} more" in r.stderr) == (len(want) > 2)


def test_unknown_merchant_exits_1(tiny_path: Path) -> None:
    r = run(str(tiny_path), "no such shop")
    assert r.exit_code == 1 and "no merchant named 'no such shop'" in r.stderr
    r = run(str(tiny_path), "4242")
    assert r.exit_code == 1 and "no merchant with id 4242" in r.stderr
    r = run(str(tiny_path), "%_")  # literal text: matches nothing
    assert r.exit_code == 1


def test_bad_range_is_usage_exit_2(tiny_path: Path) -> None:
    r = run(str(tiny_path), "1", "--range", "2h")
    assert r.exit_code == 2
    assert "2h" in r.stderr


def test_missing_file_exits_1(tmp_path: Path) -> None:
    r = run(str(tmp_path / "nope.duckdb"), "1")
    assert r.exit_code == 1 and "no such file" in r.stderr


def test_imports_no_textual(tiny_path: Path) -> None:
    code = (
        "import sys\n"
        "from tui.cli import main\n"
        f"sys.argv = ['ecotop', 'merchant', {str(tiny_path)!r}, '1', '--json']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('textual', 'textual_plotext')]\n"
        "assert not bad, bad\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["merchant"]["merchant_id"] == 1
