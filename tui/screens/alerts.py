"""`a`: the alert rules' latest results (evaluated by the app's refresh cycle)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from ecotop.tui.host import Host
from ecotop.tui.status import alert_state

if TYPE_CHECKING:
    from ecotop.queries.alerts import AlertResult

SYMBOL = {"CRITICAL": "✖", "WARNING": "⚠", "OK": "✔", "UNKNOWN": "?"}
ORDER = {"CRITICAL": 0, "WARNING": 1, "UNKNOWN": 2, "OK": 3}


def kind_of(a: AlertResult) -> str:
    """firing, ok (judged and fine), not compared (a change rule with too little volume to compare)
    or not judged (UNKNOWN: no data in its window); the last two are not OK, nor are they firing."""
    s = alert_state(a)
    if s in ("WARNING", "CRITICAL"):
        return "firing"
    if s == "UNKNOWN":
        return "not judged"
    if a.rule.condition == "change" and a.change is None:
        return "not compared"
    return "ok"


def alert_summary(alerts: list[AlertResult]) -> str:
    """`✔ 12 OK · 24 not compared · 2 not judged`: each state counted on its own (#11: stale and
    not-compared rules were counted as OK)."""
    counts: dict[str, int] = {}
    for a in alerts:
        counts[kind_of(a)] = counts.get(kind_of(a), 0) + 1
    parts = [f"✔ {counts.get('ok', 0)} OK"]
    parts += [f"{counts[k]} {k}" for k in ("not compared", "not judged") if counts.get(k)]
    return " · ".join(parts)


def alerts_table(alerts: list[AlertResult], rules: int) -> Table | Text:
    """Every alert, worst first: state (symbol and word), measure, its window, message."""
    if not rules:
        return Text("No alert rules. Put [[alerts]] rules in a config file and pass --config FILE.")
    if not alerts:
        return Text("Alerts are evaluated at the next refresh.")
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("state", no_wrap=True)
    table.add_column("measure", no_wrap=True)
    table.add_column("window", no_wrap=True)  # 99.31% (15m) beside a 99.24% (1h) tile explained
    table.add_column("message")
    for a in sorted(alerts, key=lambda a: ORDER.get(alert_state(a), 9)):
        s = alert_state(a)
        style = {"CRITICAL": "bold reverse", "WARNING": "bold", "UNKNOWN": "dim"}.get(s, "")
        word = {"not compared": "– NOT COMPARED", "not judged": "? NOT JUDGED"}.get(kind_of(a))
        table.add_row(
            Text(word or f"{SYMBOL.get(s, '?')} {s}", style=style or ("dim" if word else "")),
            a.measure,
            str(getattr(a.rule, "window", "") or ""),
            a.message,
        )
    return table


class AlertsScreen(ModalScreen[None]):
    """A modal list of every alert: state (symbol + word), measure and message."""

    DEFAULT_CSS = """
    AlertsScreen { align: center middle; }
    AlertsScreen > #alerts-box {
        width: 90%; height: auto; max-height: 90%;
        border: round $warning; background: $surface; padding: 0 1;
    }
    """

    BINDINGS: ClassVar = [Binding("escape,q,a", "close", "Close", show=True)]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="alerts-box") as box:
            box.border_title = "alerts"
            box.border_subtitle = "esc closes"
            yield Static(id="alerts-list")

    def on_mount(self) -> None:
        self.show_alerts()
        self.set_interval(1.0, self.show_alerts)

    def show_alerts(self) -> None:
        app: Host = self.app  # type: ignore[assignment]
        self.query_one("#alerts-list", Static).update(
            alerts_table(list(app.alerts), len(app.rules))
        )

    def action_close(self) -> None:
        self.dismiss(None)
