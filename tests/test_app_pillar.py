"""Pillar views on the generated sample file: charts, tables, drill-down, filter, export."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from test_app import refreshed

from ecotop.tui.app import make_app
from ecotop.tui.screens.base import OpenMerchant
from ecotop.tui.screens.overview import OverviewScreen
from ecotop.tui.screens.pillar import PillarScreen
from ecotop.tui.widgets.charts import ArrowTable, ChartBox


def app_for(small_db: Path, small_db_end: datetime, **kw):
    kw.setdefault("clock", lambda: small_db_end)
    kw.setdefault("rules", ())
    kw.setdefault("refresh_s", 30.0)
    kw.setdefault("range_key", "24h")
    return make_app(small_db, **kw)


@pytest.mark.slow
async def test_pay_view_charts_tables_and_drill_down(small_db: Path, small_db_end, monkeypatch):
    app = app_for(small_db, small_db_end)
    opened: list[int] = []
    async with app.run_test(size=(120, 40)) as pilot:
        await refreshed(pilot, app)
        n = app.refresh_count
        await pilot.press("4")
        await refreshed(pilot, app, since=n)
        screen = app.screen
        assert isinstance(screen, PillarScreen) and screen.pillar == "pay"
        assert app.last_error is None
        charts = {c.column: c for c in screen.query(ChartBox)}
        assert {"tpm", "gmv", "success_rate"} <= set(charts)
        assert all(c._data is not None for c in charts.values())
        merchants = screen.query_one("#table-merchants", ArrowTable)
        assert merchants.row_count == 10
        entries = screen.query_one("#table-by_entry", ArrowTable)
        assert entries.row_count >= 3
        # the numbers of the view agree with the measures: the by-entry transactions add up
        kpis = screen.last_data.kpis
        by_entry = screen.last_data.view.breakdowns["by_entry"]
        assert (
            sum(by_entry.column("transactions").to_pylist()) == kpis.get("pay.transactions").value
        )

        # enter on a merchant row opens that merchant
        first = screen.last_data.view.tops["merchants"].column("merchant_id")[0].as_py()
        monkeypatch.setattr(
            type(app), "on_open_merchant", lambda self, m: opened.append(m.merchant_id)
        )
        merchants.focus()
        merchants.move_cursor(row=0)
        await pilot.press("enter")
        await pilot.pause()
        assert opened == [first]

        # / filters every table; esc clears it
        await pilot.press("slash")
        industry = screen.last_data.view.breakdowns["by_industry"].column("industry")[0].as_py()
        for ch in industry:
            await pilot.press(ch)
        await pilot.pause()
        by_industry = screen.query_one("#table-by_industry", ArrowTable)
        assert by_industry.row_count >= 1
        assert all(industry in " ".join(r) for r in by_industry.rows_shown)
        assert app.range_key == "24h"  # typed letters did not run single-letter keys
        await pilot.press("escape")
        await pilot.pause()
        assert by_industry.row_count == len(screen.last_data.view.breakdowns["by_industry"])
        assert isinstance(app.screen, PillarScreen)  # esc in the filter did not leave the view

        await pilot.press("escape")
        assert isinstance(app.screen, OverviewScreen)


@pytest.mark.slow
async def test_e_exports_the_focused_table_as_csv(
    small_db: Path, small_db_end, tmp_path: Path, monkeypatch
) -> None:
    import csv

    monkeypatch.chdir(tmp_path)
    app = app_for(small_db, small_db_end)
    async with app.run_test(size=(120, 40)) as pilot:
        await refreshed(pilot, app)
        n = app.refresh_count
        await pilot.press("4")
        await refreshed(pilot, app, since=n)
        app.screen.query_one("#table-by_entry", ArrowTable).focus()
        await pilot.press("e")
        await pilot.pause(0.2)
        # like the console's e (#11): it asks for a path, with a default name stamped in the display
        # zone, writes off the UI thread and says where it wrote
        from ecotop.tui.widgets.sql_dialogs import ExportScreen

        assert isinstance(app.screen, ExportScreen)
        assert "ecotop-pay-by_entry-24h-" in app.screen.default
        await pilot.press("enter")
        for _ in range(100):
            files = list(tmp_path.glob("ecotop-pay-by_entry-24h-*.csv"))
            if files and any("wrote" in n.message for n in app._notifications):
                break
            await pilot.pause(0.05)
        assert len(files) == 1
        assert any(str(files[0]) in n.message for n in app._notifications)
        rows = list(csv.DictReader(files[0].open()))
        expected = app.screen.last_data.view.breakdowns["by_entry"]
        assert len(rows) == expected.num_rows
        assert rows[0]["entry"] == expected.column("entry")[0].as_py()


@pytest.mark.slow
async def test_every_pillar_view_fills_at_80x24(small_db: Path, small_db_end) -> None:
    from ecotop.queries import PILLARS

    app = app_for(small_db, small_db_end, range_key="1h")
    async with app.run_test(size=(80, 24)) as pilot:
        await refreshed(pilot, app)
        for n, pillar in enumerate(PILLARS, start=1):
            count = app.refresh_count
            await pilot.press(str(n))
            await refreshed(pilot, app, since=count)
            screen = app.screen
            assert screen.pillar == pillar
            assert app.last_error is None, (pillar, app.last_error)
            tiles = [t for t in screen.query("KpiTile")]
            assert tiles and all(t.state.value != "…" for t in tiles), pillar
            shown = [c for c in screen.query(ChartBox) if c.display]
            assert len(shown) == 2, pillar  # narrow: the two most telling charts


def test_open_merchant_message_carries_an_int() -> None:
    assert OpenMerchant("42").merchant_id == 42
