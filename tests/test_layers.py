"""The layers hold, checked by import-linter (contracts in pyproject.toml), and the check has teeth.

The contracts themselves run in `.ci/run` (`lint-imports`); here: the interface's contracts are kept
on this tree, a widget that imports the store breaks them, and importing the lower layers loads no
terminal UI library at run time.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))

#: The contracts the interface (tui) answers for; the others belong to the layers they name.
INTERFACE_CONTRACTS = (
    "Layers: the command line above the app, the app above the queries, the queries",
    "Screens and widgets never reach the store",
    "The interface reaches the store only through the queries layer (the gateway)",
    "Nothing below the interface imports a terminal UI library",
)


def _lint(root: Path) -> str:
    out = subprocess.run(
        [LINT, "--no-cache"],
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": str(Path(sys.executable).parent)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    return out.stdout + out.stderr


def _copy_tree(dest: Path) -> Path:
    for name in ("store", "queries", "sample_data", "tui"):
        shutil.copytree(ROOT / name, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "ecotop", dest / "ecotop", symlinks=True)
    shutil.copy(ROOT / "pyproject.toml", dest / "pyproject.toml")
    return dest


def _state(report: str, contract: str) -> str:
    # a contract's verdict ends its (possibly wrapped) name line: "... KEPT" / "... BROKEN"
    flat = " ".join(report.split())
    i = flat.find(" ".join(contract.split()))
    assert i >= 0, f"contract not reported: {contract}\n{report}"
    rest = flat[i:]
    kept, broken = rest.find("KEPT"), rest.find("BROKEN")
    return "KEPT" if kept >= 0 and (broken < 0 or kept < broken) else "BROKEN"


def test_the_interface_contracts_are_kept_and_a_widget_importing_the_store_breaks_them(
    tmp_path: Path,
) -> None:
    report = _lint(ROOT)
    for contract in INTERFACE_CONTRACTS:
        assert _state(report, contract) == "KEPT", report

    tree = _copy_tree(tmp_path / "tree")
    (tree / "tui" / "widgets" / "sneaky.py").write_text(
        '"""A widget that opens the file itself (what the contracts forbid)."""\n\n'
        "from ecotop.store import open_db\n"
    )
    report = _lint(tree)
    assert _state(report, "Screens and widgets never reach the store") == "BROKEN", report
    assert "ecotop.tui.widgets.sneaky -> ecotop.store" in report


def test_importing_lower_layers_loads_no_terminal_ui() -> None:
    code = (
        "import sys\n"
        "import ecotop.store, ecotop.store.db, ecotop.store.rollups\n"
        "import ecotop.queries, ecotop.queries.gateway, ecotop.queries.settings, ecotop.sample_data\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich')\n"
        "             or m.startswith('ecotop.tui'))\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
