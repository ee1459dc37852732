"""KeyHints: the one line of key hints at the bottom of a screen, cut to fit by usefulness.

Textual's Footer lays every shown binding side by side and crops what does not fit (`r R▏` at 80
columns), and recomposes its widgets on every focus change. This one draws a single line of text:
`? Help` always, then the keys of the screen (its own and the focused widget's), then the keys of
everywhere in the order of tui/keys.py's FOOTER_ORDER; hints are dropped from the least useful end
until the line fits, and `?` lists every key anyway. A click on a hint runs its action.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import events
from textual.widget import Widget

from ecotop.tui.keys import FOOTER_ORDER

GAP = 2  # cells between two hints


def _shown_key(binding: Any) -> str:
    if binding.key_display:
        return str(binding.key_display)
    names = {"escape": "esc", "question_mark": "?", "colon": ":", "slash": "/", "enter": "⏎"}
    first = str(binding.key).split(",")[0].strip()
    return names.get(first, first)


def fit_hints(hints: list[tuple[str, str]], width: int) -> list[tuple[str, str]]:
    """The longest prefix of `hints` (most useful first) whose line fits `width` cells; the first
    hint (help) is always kept."""
    out: list[tuple[str, str]] = []
    used = 1  # a leading space
    for i, (key, words) in enumerate(hints):
        need = len(key) + 1 + len(words) + (GAP if out else 0)
        if used + need > width and i > 0:
            break
        out.append((key, words))
        used += need
    return out


class KeyHints(Widget):
    """One line of key hints: the keys of this screen first, then the global keys that fit."""

    DEFAULT_CSS = """
    KeyHints {
        dock: bottom;
        height: 1;
        background: $footer-background;
        color: $footer-description-foreground;
    }
    KeyHints > .key-hints--key { color: $footer-key-foreground; text-style: bold; }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {"key-hints--key"}

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id, classes=classes)
        self._spans: list[tuple[int, int, str, Any]] = []  # (start, end, action, node)

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Any) -> None:
        self.refresh()

    def hints(self) -> list[tuple[str, str, str, Any]]:
        """(key, words, action, node) of every hint, most useful first."""
        local: list[tuple[str, str, str, Any]] = []
        glob: dict[str, tuple[str, str, str, Any]] = {}
        seen: set[str] = set()
        for _key, active in self.screen.active_bindings.items():
            binding, node = active.binding, active.node
            if not binding.show or binding.action in seen:
                continue
            seen.add(binding.action)
            hint = (_shown_key(binding), binding.description, binding.action, node)
            if node is self.app:
                glob[binding.action] = hint
            else:
                local.append(hint)
        ordered = [glob.pop(a) for a in FOOTER_ORDER if a in glob]
        helps = [h for h in ordered if h[2] == "help"]
        rest = [h for h in ordered if h[2] != "help"]
        return [*helps, *local, *rest, *glob.values()]

    def render(self) -> Text:
        style = self.get_component_rich_style("key-hints--key")
        all_hints = self.hints()
        shown = fit_hints([(k, w) for k, w, *_ in all_hints], self.size.width)
        text = Text(" ", no_wrap=True, overflow="crop")
        self._spans = []
        for i, (key, words) in enumerate(shown):
            if i:
                text.append(" " * GAP)
            start = text.cell_len
            text.append(key, style)
            text.append(" " + words)
            _, _, action, node = all_hints[i]
            self._spans.append((start, text.cell_len, action, node))
        return text

    async def on_click(self, event: events.Click) -> None:
        for start, end, action, node in self._spans:
            if start <= event.x < end:
                await self.app.run_action(action, node)
                return
