"""The console's modal dialogs: history search, export path, pin as panel, and a yes/no confirm.

Each is a ModalScreen returning its answer through `dismiss` (None when cancelled with `esc`).
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, RadioButton, RadioSet, Static
from textual.widgets.option_list import Option

from ecotop.tui.history import Entry

_DIALOG_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{
    width: 90%;
    max-width: 100;
    height: auto;
    max-height: 90%;
    border: round $accent;
    background: $surface;
    padding: 0 1;
}}
{name} .dialog-title {{ text-style: bold; width: 1fr; }}
{name} .dialog-hint {{ color: $text-muted; width: 1fr; }}
{name} .dialog-error {{ color: $text-error; width: 1fr; height: auto; }}
"""


def _see_through(screen: ModalScreen[Any]) -> None:
    """Dim the screen beneath instead of hiding it (the app's `Screen` rule paints every screen,
    modal ones included, opaque; an inline style wins over it)."""
    from textual.color import Color

    screen.styles.background = Color(0, 0, 0, 0.5)


def ago(ts: float, now: float | None = None) -> str:
    s = max(0, (now or time.time()) - ts)
    if s < 60:
        return "just now"
    if s < 3600:
        return f"{int(s // 60)}m ago"
    if s < 86400:
        return f"{int(s // 3600)}h ago"
    return f"{int(s // 86400)}d ago"


class HistoryScreen(ModalScreen[str | None]):
    """Search the statements run before; `enter` brings one back into the editor."""

    DEFAULT_CSS = (
        _DIALOG_CSS.format(name="HistoryScreen")
        + """
    HistoryScreen OptionList { height: auto; max-height: 20; border: none; }
    """
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Close"),
        Binding("down", "move(1)", show=False, priority=True),
        Binding("up", "move(-1)", show=False, priority=True),
    ]

    def __init__(self, entries: list[Entry]) -> None:
        super().__init__()
        self.entries = list(reversed(entries))  # newest first
        self.shown: list[Entry] = []

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"History ({len(self.entries)})", classes="dialog-title")
            yield Input(placeholder="filter: words the statement contains", id="history-filter")
            yield OptionList(id="history-list")
            yield Static(
                "enter puts the statement in the editor · up/down choose · esc closes",
                classes="dialog-hint",
            )

    def on_mount(self) -> None:
        _see_through(self)
        self._fill("")
        self.query_one(Input).focus()

    def _fill(self, text: str) -> None:
        words = text.lower().split()
        self.shown = [e for e in self.entries if all(w in e.sql.lower() for w in words)][:200]
        ol = self.query_one(OptionList)
        ol.clear_options()
        now = time.time()
        width = max(30, int(min(100, self.app.size.width * 0.9)) - 8)
        for e in self.shown:
            meta = f"{ago(e.ran_at, now):>8}  {e.rows_text or '':>12}  {e.elapsed_text:>7}  "
            label = Text(meta, style="dim" if e.error is None else "red")
            room = max(10, width - len(meta))
            sql = " ".join(e.sql.split())
            label.append(sql if len(sql) <= room else sql[: room - 1] + "…")
            ol.add_option(Option(label))
        if self.shown:
            ol.highlighted = 0

    @on(Input.Changed, "#history-filter")
    def _filter(self, event: Input.Changed) -> None:
        self._fill(event.value)

    @on(Input.Submitted, "#history-filter")
    def _submit(self, event: Input.Submitted) -> None:
        ol = self.query_one(OptionList)
        if ol.highlighted is not None and self.shown:
            self.dismiss(self.shown[ol.highlighted].sql)

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.shown[event.option_index].sql)

    def action_move(self, delta: int) -> None:
        ol = self.query_one(OptionList)
        if not self.shown:
            return
        cur = ol.highlighted if ol.highlighted is not None else -delta
        ol.highlighted = max(0, min(len(self.shown) - 1, cur + delta))


class ExportScreen(ModalScreen[str | None]):
    """Ask where to write the result; the suffix says the format."""

    DEFAULT_CSS = _DIALOG_CSS.format(name="ExportScreen")
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, default: str, validate: Any = None, title: str | None = None) -> None:
        super().__init__()
        self.default = default
        self.validate = validate  # (path, overwrite) -> error message or None
        self.title_text = title or "Export the whole result (the statement runs again, unlimited)"
        self._confirm_overwrite: str | None = None

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.title_text, classes="dialog-title")
            yield Input(self.default, id="export-path")
            yield Static("", classes="dialog-error", id="export-error")
            yield Static(
                "format from the suffix: .csv .parquet .json .jsonl · enter writes · esc cancels",
                classes="dialog-hint",
            )

    def on_mount(self) -> None:
        _see_through(self)
        inp = self.query_one(Input)
        inp.focus()
        stem_end = len(self.default.rsplit(".", 1)[0])
        inp.cursor_position = stem_end

    @on(Input.Changed, "#export-path")
    def _changed(self, event: Input.Changed) -> None:
        self._confirm_overwrite = None
        self.query_one("#export-error", Static).update("")

    @on(Input.Submitted, "#export-path")
    def _submit(self, event: Input.Submitted) -> None:
        path = event.value.strip()
        overwrite = self._confirm_overwrite == path
        problem = self.validate(path, overwrite) if self.validate else None
        if problem is None:
            self.dismiss(path)
            return
        if problem.endswith("already exists"):
            self._confirm_overwrite = path
            problem += " — press enter again to replace it"
        self.query_one("#export-error", Static).update(Text(problem))


class PinScreen(ModalScreen[tuple[str, str] | None]):
    """Name the pinned panel and choose how it shows: a table, a number with trend, or a chart."""

    DEFAULT_CSS = (
        _DIALOG_CSS.format(name="PinScreen")
        + """
    PinScreen RadioSet { width: 1fr; height: auto; }
    PinScreen .pin-sql { color: $text-muted; height: auto; max-height: 4; }
    """
    )
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Cancel")]
    KINDS: ClassVar[list[tuple[str, str]]] = [
        ("table", "table: the first rows"),
        ("number", "number with trend: the first numeric value (rows or refreshes make the trend)"),
        ("chart", "chart: the second column by the first"),
    ]

    def __init__(self, sql: str, name: str, kind: str = "table", taken: set[str] | None = None):
        super().__init__()
        self.sql = sql
        self.default_name = name
        self.kind = kind
        self.taken = taken or set()

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Pin this query to the overview", classes="dialog-title")
            yield Static(Text(" ".join(self.sql.split())[:300]), classes="pin-sql")
            yield Input(self.default_name, placeholder="panel name", id="pin-name")
            with RadioSet(id="pin-kind"):
                for key, label in self.KINDS:
                    yield RadioButton(label, value=key == self.kind, name=key)
            yield Static("", classes="dialog-error", id="pin-error")
            yield Static(
                "enter pins · tab moves to the kind (arrows + space) · esc cancels",
                classes="dialog-hint",
            )

    def on_mount(self) -> None:
        _see_through(self)
        self.query_one(Input).focus()

    def _selected_kind(self) -> str:
        rs = self.query_one(RadioSet)
        btn = rs.pressed_button
        return (btn.name if btn is not None else None) or "table"

    @on(Input.Submitted, "#pin-name")
    def _submit(self, event: Input.Submitted | None = None) -> None:
        name = self.query_one(Input).value.strip()
        if not name:
            self.query_one("#pin-error", Static).update("give the panel a name")
            return
        self.dismiss((name, self._selected_kind()))

    def key_enter(self) -> None:
        # enter on the kind list pins too
        if not isinstance(self.focused, Input):
            self._submit()


class ConfirmScreen(ModalScreen[bool]):
    """A yes/no question: `y`/`enter` says yes, `n`/`esc` says no."""

    DEFAULT_CSS = _DIALOG_CSS.format(name="ConfirmScreen").replace(
        "max-width: 100", "max-width: 60"
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y,enter", "dismiss(True)", "Yes"),
        Binding("n,escape", "dismiss(False)", "No"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def on_mount(self) -> None:
        _see_through(self)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self.question), classes="dialog-title")
            yield Static("y / enter: yes · n / esc: no", classes="dialog-hint")


class CellScreen(ModalScreen[None]):
    """One cell's whole value (results cut long values): read-only, selectable, `ctrl+c` copies."""

    DEFAULT_CSS = (
        _DIALOG_CSS.format(name="CellScreen")
        + """
    CellScreen TextArea { height: auto; max-height: 30; min-height: 3; }
    """
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter", "dismiss(None)", "Close"),
        Binding("ctrl+c", "copy_all", "Copy", show=False),
    ]

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self.title_text = title
        self.text = text

    def compose(self) -> ComposeResult:
        from textual.widgets import TextArea

        with Vertical():
            yield Label(Text(self.title_text), classes="dialog-title")
            yield TextArea(self.text, read_only=True, soft_wrap=True, id="cell-value")
            yield Static("ctrl+c copies the value · esc closes", classes="dialog-hint")

    def on_mount(self) -> None:
        _see_through(self)

    def action_copy_all(self) -> None:
        from textual.widgets import TextArea

        area = self.query_one(TextArea)
        self.app.copy_to_clipboard(area.selected_text or self.text)
        self.app.notify("copied", timeout=1.5)
