"""ecotop installs as one package: nothing generic at the top of site-packages, and it runs from
any directory (not only from a checkout, where `queries/` happens to be importable)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_the_named_queries_load_away_from_the_checkout(tmp_path: Path) -> None:
    """Run from an empty directory with the checkout off sys.path: every named query is found
    through the installed package's own resources (a bare `queries` name broke `pip install .`)."""
    code = (
        f"import sys; sys.path = [p for p in sys.path if p not in ('', {str(ROOT)!r})]\n"
        "from ecotop.queries.registry import registry\n"
        "print(len(registry()))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) > 40


@pytest.mark.slow
def test_the_wheel_holds_one_top_level_package(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(ROOT), "-w", str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("ecotop-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/", 1)[0] for n in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"ecotop"}
    # the card's folders and their data files are inside it
    for part in ("store/migrations/", "queries/pay/", "tui/ecotop.tcss", "sample_data/"):
        assert any(n.startswith("ecotop/" + part) for n in names), part
