"""How values, changes and trends look: the formatting contract of the tiles (no Textual needed)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ecotop.tui.widgets.format import format_change, format_value
from ecotop.tui.widgets.spark import resample, spark_rows, spark_text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0"),
        (999, "999"),
        (12_345, "12,345"),
        (99_999, "99,999"),
        (123_456, "123K"),
        (999_600, "1.00M"),
        (1_090_000_000, "1.09B"),
    ],
)
def test_counts_use_separators_then_compact_units(value: int, text: str) -> None:
    assert format_value("count", value) == text


def test_money_is_yuan_with_two_decimals_or_compact() -> None:
    """One rule (#11): cents below ¥1,000, compact from there, so no table mixes ¥71,959.72 and
    ¥351K, and no tile's money grows wide enough to touch its label."""
    assert format_value("money", Decimal("1234.5")) == "¥1.23K"
    assert format_value("money", Decimal("71959.72")) == "¥72.0K"
    assert format_value("money", Decimal("37225")) == "¥37.2K"
    assert format_value("money", Decimal("999.99")) == "¥999.99"
    assert format_value("money", Decimal("999.996")) == "¥1.00K"
    assert format_value("money", Decimal("23.45")) == "¥23.45"
    assert format_value("money", Decimal("0")) == "¥0.00"
    assert format_value("money", Decimal("1600000000000")) == "¥1.60T"
    assert format_value("money", Decimal("250000")) == "¥250K"
    assert format_value("money", Decimal("-5000")) == "-¥5.00K"


def test_one_format_for_the_cli_and_the_screen() -> None:
    """`ecotop kpis` and `ecotop merchant` print what the tiles print (#11: 0.00% vs 0.0%)."""
    from ecotop.tui.commands import kpis as cli

    for kind, value in [("rate", 0.0), ("rate", 0.0022), ("money", 71959.72), ("count", 1234)]:
        assert cli.format_value(kind, value) == format_value(kind, value)
    for kind, change in [("count", 12.345), ("rate", -0.126), ("money", None)]:
        assert cli.format_change(kind, change) == format_change(kind, change)


def test_growth_and_plurals() -> None:
    from ecotop.tui.widgets.format import format_growth, plural

    assert format_growth(0.2) == "▲ 20.0%"
    assert format_growth(-2 / 3) == "▼ 66.7%"
    assert format_growth(None) == "—"
    assert plural(1, "row") == "1 row" and plural(2, "row") == "2 rows"
    assert plural(1, "live", "live") == "1 live" and plural(1234, "merchant") == "1,234 merchants"


@pytest.mark.parametrize(
    ("fraction", "text"),
    [
        (0.9995, "99.95%"),
        (0.99995, "99.995%"),
        (0.999999, "99.9999%"),
        (1.0, "100.00%"),
        (0.5, "50.00%"),
        (0.0, "0.00%"),
        (0.0007, "0.07%"),
        (0.0022, "0.22%"),
        (0.00001, "0.001%"),
    ],
)
def test_rates_never_round_up_to_100_or_down_to_0(fraction: float, text: str) -> None:
    assert format_value("rate", fraction) == text


def test_missing_values_are_a_dash_and_approximate_values_say_so() -> None:
    assert format_value("count", None) == "—"
    assert format_value("rate", float("nan")) == "—"
    assert format_value("count", 1_234_567, approx=True) == "≈1.23M"


def test_changes_have_an_arrow_and_a_unit() -> None:
    assert format_change("count", 12.345) == "▲ 12.3%"
    assert format_change("money", -3.0) == "▼ 3.0%"
    assert format_change("rate", 0.126) == "▲ 0.13pp"
    assert format_change("rate", -12.5) == "▼ 12.5pp"
    assert format_change("count", None) == "—"
    assert format_change("count", 0.01) == "= 0%"


def test_sparklines_fit_their_width_and_start_at_zero() -> None:
    assert resample([1, 2, 3, 4], 2) == [1.5, 3.5]
    assert resample([1, 2], 5) == [1, 1, 1, 2, 2]  # widened to fill the width
    line = spark_text([0, 1, 2, 3, 4, 5, 6, 7, 8], 9)
    assert line == " ▁▂▃▄▅▆▇█"
    assert spark_text([5, 5, 5], 3) == "███"  # measured from zero
    assert spark_text([], 4) == "    "
    assert spark_text([None, 4, 8], 3) == " ▄█"
    rows = spark_rows([0, 8, 16], 3, height=2)
    assert rows == ["  █", " ██"] or rows == ["  █", " ▄█"]


def _documented_columns() -> list[tuple[str, str, str]]:
    """(query, column, description) of every pillar table and chart query, from the header comments
    of its SQL file (`--   name   description`)."""
    import re
    from pathlib import Path

    from ecotop.queries.views import PILLAR_VIEWS

    root = Path(__file__).resolve().parent.parent / "queries"
    names = {q for spec in PILLAR_VIEWS.values() for part in spec.values() for q in part.values()}
    names |= {f"{p}/series" for p in PILLAR_VIEWS}
    out = []
    for name in sorted(names):
        for line in (root / f"{name}.sql").read_text().splitlines():
            m = re.match(r"^--   ([a-z_0-9]+)\s+(.+)$", line)
            if m:
                out.append((name, m.group(1), m.group(2)))
    return out


def test_every_rate_column_of_every_pillar_reads_as_a_percentage() -> None:
    """#11 point 7: Pay Score 'by scenario' showed `collection rate d0 0`, `d7 1`, and growth lost
    its %. Every column documented as a fraction (share, rate, growth) goes through the tiles'
    formatter: a percentage, a growth as a change with an arrow."""
    from ecotop.tui.widgets.charts import column_kind, format_cell

    checked = 0
    for query, column, what in _documented_columns():
        fraction = "(fraction" in what or what.startswith("share of")
        series_rate = query.endswith("/series") and " / " in what and "CNY" not in what
        if not (fraction or series_rate):
            continue
        checked += 1
        assert column_kind(column) == "rate", (query, column, what)
        cell = format_cell(column, 0.2)
        if column.endswith("_growth"):
            assert cell == "▲ 20.0%", (query, column, cell)
        else:
            assert cell == "20.00%", (query, column, cell)
    assert checked >= 25


def test_a_rate_sparkline_moves_on_its_own_range() -> None:
    """#11: success rate between 99.3% and 99.6% drew a solid bar (measured from zero)."""
    rates = [0.9931, 0.9951, 0.9942, 0.9960, 0.9935]
    assert spark_text(rates, 5) == "█████"  # counts' rule: from zero
    line = spark_text(rates, 5, from_zero=False)
    assert len(set(line)) >= 4 and line[3] == "█" and " " not in line


def test_long_ranges_take_one_sparkline_point_per_day() -> None:
    """#11: 7d sparklines sampled every 5.6 h beat against the daily cycle; one point a day."""
    from datetime import UTC, datetime

    from ecotop.queries.views import buckets_for
    from ecotop.queries.windows import window
    from ecotop.tui.screens.overview import trend_points

    end = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)
    assert buckets_for(window("7d", end), trend_points("7d")) == 7
    assert buckets_for(window("30d", end), trend_points("30d")) == 30
    assert buckets_for(window("24h", end), trend_points("24h")) == 24
