"""Alerts on the dashboard: a firing tile gets a symbol and a style, the bell rings once, `a` lists."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import dashboard_data
import pytest
from test_app import refreshed, status, tile

from ecotop.queries.alerts import Rule
from ecotop.tui.app import make_app
from ecotop.tui.screens.alerts import AlertsScreen

FIXED = datetime(2026, 11, 20, 4, 0, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def tiny_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return dashboard_data.build(tmp_path_factory.mktemp("alerts") / "tiny.duckdb")


def rules() -> tuple[Rule, ...]:
    # The tiny file fails every 10th payment: a 90% success rate.
    return (
        Rule("pay_low", "pay.success_rate", "below", warning=0.999, critical=0.99, window="1h"),
        Rule("refunds", "pay.refund_rate", "above", warning=0.5, window="1h"),
    )


@pytest.mark.slow
async def test_a_firing_alert_marks_its_tile_rings_once_and_is_listed(tiny_db: Path) -> None:
    app = make_app(tiny_db, clock=lambda: FIXED, rules=rules(), refresh_s=0.1, alert_every_s=0)
    app.immutable = False  # judge the rules every cycle, as for a file that can change
    bells: list[int] = []
    app.bell = lambda: bells.append(1)  # type: ignore[method-assign]
    async with app.run_test(size=(100, 30)) as pilot:
        await refreshed(pilot, app, 3)
        t = tile(app, "pay.success_rate")
        assert t.state.alert == "CRITICAL"
        assert t.has_class("-critical")
        assert str(t.render().plain).startswith("✖ ")  # a symbol, not colour alone
        assert not tile(app, "pay.refund_rate").has_class("-warning")
        panel = app.screen.query_one("#pillar-pay")
        assert panel.has_class("-critical")
        assert "1 alert (a)" in status(app)
        assert bells == [1]  # rang when it started firing, not on every refresh
        await pilot.press("a")
        assert isinstance(app.screen, AlertsScreen)
        await pilot.pause()
        from rich.console import Console

        from ecotop.tui.screens.alerts import alerts_table

        console = Console(width=120, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
        console.print(alerts_table(app.alerts, len(app.rules)))
        listed = console.export_text()
        assert "✖ CRITICAL" in listed and "pay.success_rate" in listed
        assert "✔ OK" in listed and "pay.refund_rate" in listed
        await pilot.press("escape")
        # when it stops firing, the tile is plain again and a new firing rings again
        app.rules = (Rule("pay_low", "pay.success_rate", "below", warning=0.5, window="1h"),)
        await refreshed(pilot, app, 2)
        assert tile(app, "pay.success_rate").state.alert is None
        assert not tile(app, "pay.success_rate").has_class("-critical")
        assert bells == [1]


async def test_alerts_are_not_judged_in_the_first_cycle(tiny_db: Path) -> None:
    app = make_app(tiny_db, clock=lambda: FIXED, rules=rules(), refresh_s=30, alert_every_s=0)
    async with app.run_test() as pilot:
        await refreshed(pilot, app, 1)
        assert app.alerts == []  # the first screen fills in without paying for the rules
        n = app.refresh_count
        await pilot.press("r")
        await refreshed(pilot, app, since=n)
        assert app.alerts
