"""`?`: every key of the screen it covers (like lazygit's `?`), from the one registry in tui/keys.py
and the bindings live on that screen; it scrolls (up/down, pgup/pgdn) and closes with esc or `?`.

The keys that work everywhere come first, in the registry's order, so at 80x24 the first page on
the overview already shows quit, merchants, SQL console, alerts, time range, pause and refresh.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from ecotop.tui.keys import APP_KEYS, SCREEN_KEYS

#: Keys of Textual's own widgets that say nothing an operator needs (scrolling is said once).
_NOISE = {"scroll_up", "scroll_down", "scroll_left", "scroll_right", "scroll_home", "scroll_end"}
_NOISE_KEYS = {"tab", "shift+tab", "ctrl+c", "ctrl+q"}


#: The console's k9s-style jumps: a line starting with `:` runs one instead of SQL.
JUMP_ROW = (
    ": jump",
    "in the console, a line that starts with `:` jumps instead of running SQL: "
    "`:merchant NAME` (one match opens it, several the list filtered), `:pillar wecom` (or 1-7), "
    "`:range 3h` (any 45m, 3h, 2d from 1m to 30d)",
)


def _pillar_row() -> tuple[str, str]:
    from ecotop.queries.measures import PILLARS

    names = " · ".join(f"{i} {name}" for i, name in enumerate(PILLARS.values(), start=1))
    return "1-7", f"Pillar views: {names}"


def _display(key: str, key_display: str | None) -> str:
    """How a binding's key reads in the help: its display, else Textual's key names made short."""
    if key_display:
        return key_display
    names = {
        "question_mark": "?",
        "slash": "/",
        "colon": ":",
        "escape": "esc",
        "greater_than_sign": ">",
        "less_than_sign": "<",
        "plus": "+",
        "minus": "-",
    }
    return " ".join(names.get(k.strip(), k.strip()) for k in key.split(","))


def everywhere_rows() -> list[tuple[str, str]]:
    """The keys that work on every screen, in the registry's order (pillars folded into one row)."""
    rows: list[tuple[str, str]] = []
    for k in APP_KEYS:
        if k.action.startswith("pillar("):
            if not any(r[0] == "1-7" for r in rows):
                rows.append(_pillar_row())
            continue
        rows.append((k.display, k.description))
    palette = next((k for k in SCREEN_KEYS if k.action == "command_palette"), None)
    if palette is not None:
        rows.append((palette.display, palette.description))
    return rows


def screen_rows(screen: Screen[Any] | None) -> list[tuple[str, str]]:
    """The keys that screen (and the widget with focus on it) adds, each key once."""
    if screen is None:
        return []
    app_keys = {k.display for k in APP_KEYS} | {"ctrl+p"}
    seen: set[str] = set()
    rows: list[tuple[str, str]] = []
    nodes: list[Any] = []
    node: Any = screen.focused
    while node is not None and node is not screen:
        nodes.append(node)
        node = node.parent
    nodes.reverse()
    nodes.insert(0, screen)
    words = {k.action: k.description for k in SCREEN_KEYS}
    for node in nodes:
        try:
            bindings = node._bindings.key_to_bindings.values()
        except AttributeError:
            continue
        for group in bindings:
            for b in group:
                action = b.action.split("(")[0]
                if (
                    not b.description
                    or b.system
                    or action in _NOISE
                    or b.key in _NOISE_KEYS
                    or b.key.startswith("super+")
                ):
                    continue
                shown = _display(b.key, b.key_display)
                if shown in seen or shown in app_keys:
                    continue
                seen.add(shown)
                rows.append((shown, words.get(b.action) or b.tooltip or b.description))
    return rows


def keys_table(screen: Screen[Any] | None = None, title: str = "") -> Table:
    """The help as one Rich table: this screen's keys (when given), then the keys of everywhere."""
    table = Table(box=None, show_header=False, pad_edge=False, expand=True)
    table.add_column("key", style="bold", no_wrap=True, min_width=6)
    table.add_column("what it does", ratio=1)
    mine = screen_rows(screen)
    table.add_row(Text("everywhere", style="bold underline"), "")
    for key, what in everywhere_rows():
        table.add_row(key, what)
    table.add_row(*JUMP_ROW)
    if mine:
        table.add_row("", "")
        table.add_row(Text(f"on {title or 'this screen'}", style="bold underline"), "")
        for key, what in mine:
            table.add_row(key, what)
    if screen is None:  # the full registry (README, tests): every key of every screen
        table.add_row("", "")
        table.add_row(Text("on some screens", style="bold underline"), "")
        for k in SCREEN_KEYS:
            if k.action != "command_palette":
                table.add_row(k.display, f"{k.description} ({k.scope})")
    table.add_row("", "")
    table.add_row("↑↓ pgup pgdn", "scroll this help · esc or ? closes it")
    return table


class HelpScreen(ModalScreen[None]):
    """A modal list of every key of the screen below; esc or ? closes it, arrows scroll it."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > #help-box {
        width: 90%; max-width: 100; min-width: 40;
        height: 90%; max-height: 50;
        border: round $primary; background: $surface; padding: 0 1;
    }
    HelpScreen > #help-box:focus { border: round $accent; }
    HelpScreen #help-keys { width: 100%; height: auto; }
    """

    BINDINGS: ClassVar = [
        Binding("escape,question_mark,q", "close", "Close", show=True, key_display="esc"),
    ]

    def __init__(self, under: Screen[Any] | None = None) -> None:
        super().__init__()
        self._under = under

    def _covered(self) -> Screen[Any] | None:
        """The screen this help was opened on (the top of the stack below this one)."""
        if self._under is not None:
            return self._under
        stack = [s for s in self.app.screen_stack if s is not self]
        return stack[-1] if stack else None

    def compose(self) -> ComposeResult:
        under = self._covered()
        title = getattr(under, "help_title", "") or type(under).__name__.removesuffix("Screen")
        with VerticalScroll(id="help-box") as box:
            box.border_title = f"keys · {title.lower()}" if under is not None else "keys"
            box.border_subtitle = "↑↓ scroll · esc or ? closes"
            yield Static(keys_table(under, title.lower()), id="help-keys")

    def on_mount(self) -> None:
        self.query_one("#help-box").focus()

    def action_close(self) -> None:
        self.dismiss(None)
