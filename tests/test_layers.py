"""The layers below tui/ never import Textual (nor each other upwards)."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _imports(package: str) -> set[str]:
    names: set[str] = set()
    for path in (ROOT / package).rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    return names


def test_store_queries_sample_data_never_import_textual() -> None:
    for package in ("store", "queries", "sample_data"):
        found = _imports(package)
        assert not {"textual", "textual_plotext", "textual_fastdatatable"} & found, package
        assert "tui" not in found, package


def test_direction_of_imports() -> None:
    assert "queries" not in _imports("store")
    assert "sample_data" not in _imports("store")
    assert "sample_data" not in _imports("queries")


def test_only_store_imports_duckdb() -> None:
    for package in ("queries", "sample_data", "tui"):
        assert "duckdb" not in _imports(package), package


def test_importing_lower_layers_loads_no_textual() -> None:
    import subprocess
    import sys

    code = (
        "import sys, store, store.db, store.rollups\n"
        "import importlib.util\n"
        "for m in ('queries', 'sample_data'):\n"
        "    if importlib.util.find_spec(m): __import__(m)\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('textual', 'tui')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
