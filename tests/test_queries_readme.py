"""The README's Measures table is the catalogue itself (regenerate: `python -m ecotop.queries.measures`)."""

from pathlib import Path

from ecotop.queries.measures import MEASURES, markdown_table

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_lists_every_measure_as_the_catalogue_defines_it() -> None:
    text = README.read_text(encoding="utf-8")
    assert "## Measures" in text
    assert markdown_table() in text
    for m in MEASURES:
        assert f"`{m.id}`" in text
