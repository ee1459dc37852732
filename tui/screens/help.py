"""`?`: every key, from the one registry in tui/keys.py."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from ecotop.tui.keys import ALL_KEYS


def keys_table() -> Table:
    table = Table(box=None, show_header=True, header_style="bold", pad_edge=False, expand=False)
    table.add_column("key", style="bold", no_wrap=True)
    table.add_column("what it does")
    table.add_column("where", style="dim")
    seen = set()
    for k in ALL_KEYS:
        if k.action.startswith("pillar("):
            if "pillar" in seen:
                continue
            seen.add("pillar")
            table.add_row("1-7", "Pillar views: 1 messaging … 7 Channels", "everywhere")
            continue
        table.add_row(k.display, k.description, k.scope)
    return table


class HelpScreen(ModalScreen[None]):
    """A modal list of every key; esc, q or ? closes it."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > #help-box {
        width: auto; max-width: 90%; height: auto; max-height: 90%;
        border: round $primary; background: $surface; padding: 0 1;
    }
    """

    BINDINGS: ClassVar = [
        Binding("escape,q,question_mark", "close", "Close", show=True),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box") as box:
            box.border_title = "ecotop keys"
            box.border_subtitle = "esc closes"
            yield Static(keys_table(), id="help-keys")

    def action_close(self) -> None:
        self.dismiss(None)
