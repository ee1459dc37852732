"""A one-question modal: `y` (or enter, or the key that asked again) says yes, `n` or esc says no."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import Static


class Confirm(ModalScreen[bool]):
    """Ask `question` once; dismisses with True (y, enter, `again`) or False (n, esc)."""

    DEFAULT_CSS = """
    Confirm { align: center middle; }
    Confirm > #confirm-box {
        width: auto; max-width: 70; height: auto;
        border: round $warning; background: $surface; padding: 0 1;
    }
    """

    BINDINGS: ClassVar = [
        Binding("y,enter", "answer(True)", "Yes", show=True),
        Binding("n,escape", "answer(False)", "No", show=True),
    ]

    def __init__(self, question: str, again: str | None = None) -> None:
        super().__init__()
        self.question = question
        self.again = again  # the key that asked (q): pressed again, it means yes

    def compose(self) -> ComposeResult:
        hint = "y/n" + (f" ({self.again} again: yes)" if self.again else "")
        box = Static(f"{self.question}\n{hint}", id="confirm-box")
        box.border_title = "confirm"
        yield box

    def on_key(self, event) -> None:  # type: ignore[no-untyped-def]
        if self.again and event.key == self.again:
            event.stop()
            self.dismiss(True)

    def action_answer(self, yes: bool) -> None:
        self.dismiss(bool(yes))
