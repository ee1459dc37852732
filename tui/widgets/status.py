"""StatusBar: what the numbers on screen mean right now (as of, live/paused/stale, refresh, errors).

It draws a `tui.status.Status` handed to `show()`; it never reads the app."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from ecotop.tui.status import Status, status_parts


class StatusBar(Widget):
    """One line: `● LIVE · as of 11-20 12:03:15 CST · range 1h · 320 ev/s · refreshed … (12 ms)`."""

    DEFAULT_CSS = """
    StatusBar { height: 1; dock: top; background: $panel; color: $text; padding: 0 1; }
    StatusBar > .status-bar--live { color: $text-success; text-style: bold; }
    StatusBar > .status-bar--file { color: $text-primary; text-style: bold; }
    StatusBar > .status-bar--remote { color: $text-accent; text-style: bold; }
    StatusBar > .status-bar--paused { color: $text-warning; text-style: bold reverse; }
    StatusBar > .status-bar--stale { color: $text-warning; text-style: bold; }
    StatusBar > .status-bar--error { color: $text-error; text-style: bold; }
    StatusBar > .status-bar--alert { color: $text-warning; text-style: bold; }
    StatusBar > .status-bar--range { text-style: bold; }
    StatusBar > .status-bar--title { text-style: bold; }
    """

    COMPONENT_CLASSES = {
        "status-bar--live",
        "status-bar--file",
        "status-bar--remote",
        "status-bar--paused",
        "status-bar--stale",
        "status-bar--error",
        "status-bar--alert",
        "status-bar--range",
        "status-bar--title",
    }

    parts: reactive[tuple[tuple[str, str, int], ...]] = reactive(())

    def __init__(self, title: str = "ecotop", **kw: Any) -> None:
        super().__init__(**kw)
        self.title = title

    def show(self, status: Status) -> None:
        """Draw `status` (re-renders only when the text changed)."""
        new = tuple(status_parts(status))
        if new != self.parts:
            self.parts = new

    @property
    def plain(self) -> str:
        return str(self.render().plain)

    def render(self) -> Text:
        width = max(self.content_region.width, 20) if self.is_mounted else 200
        parts = list(self.parts)
        sep = " · "
        title = f"{self.title} "

        # Keep pieces by priority (0 always), each only if it still fits; show them in order.
        keep: set[int] = set()
        used = len(title)
        for i in sorted(range(len(parts)), key=lambda i: (parts[i][2], i)):
            need = len(parts[i][0]) + (len(sep) if keep else 0)
            if parts[i][2] == 0 or used + need <= width:
                keep.add(i)
                used += need
        parts = [p for i, p in enumerate(parts) if i in keep]
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(title, self.get_component_rich_style("status-bar--title"))
        for i, (p, cls, _) in enumerate(parts):
            if i:
                text.append(sep)
            text.append(p, self.get_component_rich_style(cls) if cls else "")
        return text
