"""StatusBar: what the numbers on screen mean right now (as of, live/paused/stale, refresh, errors)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

if TYPE_CHECKING:
    from ecotop.tui.app import EcotopApp


def status_parts(app: EcotopApp, screen: Any = None) -> list[tuple[str, str, int]]:
    """(text, style class, priority) pieces; lower priority numbers survive narrow terminals."""
    parts: list[tuple[str, str, int]] = []
    fmt = "%H:%M:%S"
    if app.paused:
        since = app.local(app.paused_at).strftime("%H:%M:%S") if app.paused_at else ""
        n = app.paused_events()
        extra = f", {n:,} events arrived" if app.live else ""
        parts.append((f"❚❚ PAUSED {since}{extra}", "status-bar--paused", 0))
    elif app.live:
        parts.append(("● LIVE", "status-bar--live", 0))
    else:
        parts.append(("■ FILE", "status-bar--file", 0))
    if getattr(app.db, "remote", False):
        parts.append((f"via PID {app.db.pid}", "status-bar--remote", 0))
    # live: the clock when the numbers on screen were fetched (frozen while paused)
    as_of = app.last_refresh_at if app.live else app.data_as_of
    if as_of is not None:
        zone = app.local(as_of).strftime("%Z")
        label = "as of" if app.live else "data to"
        parts.append((f"{label} {app.local(as_of).strftime('%m-%d ' + fmt)} {zone}", "", 1))
    stale = app.stale_since()
    if stale is not None:
        parts.append(
            (f"⚠ stale since {app.local(stale).strftime('%H:%M')}", "status-bar--stale", 0)
        )
    parts.append((f"range {app.range_key}", "status-bar--range", 1))
    if app.live and app.feed is not None and not app.paused:
        rate = app.feed.events_per_s()
        parts.append((f"{rate:,.1f} ev/s" if rate < 10 else f"{rate:,.0f} ev/s", "", 3))
    if app.show_timing and app.last_refresh_at is not None:
        ms = f" ({app.last_query_ms:.0f} ms)" if app.last_query_ms is not None else ""
        if app.last_cached:
            ms = " (file unchanged)"
        parts.append((f"refreshed {app.local(app.last_refresh_at).strftime(fmt)}{ms}", "", 4))
    parts.append((f"every {app.refresh_s:g}s", "", 5))
    if app.last_error:
        parts.append((f"✖ {app.last_error}", "status-bar--error", 0))
    feed_error = getattr(app.feed, "error", None) if app.feed is not None else None
    if feed_error is not None:
        first = (str(feed_error).strip().splitlines() or [type(feed_error).__name__])[0]
        parts.append((f"✖ live feed stopped: {first}", "status-bar--error", 0))
    firing = [a for a in app.alerts if _state(a) in ("WARNING", "CRITICAL")]
    if firing:
        crit = sum(1 for a in firing if _state(a) == "CRITICAL")
        sym = "✖" if crit else "⚠"
        parts.append(
            (
                f"{sym} {len(firing)} alert{'s' if len(firing) > 1 else ''} (a)",
                "status-bar--alert",
                0,
            )
        )
    return parts


def _state(a: Any) -> str:
    s = getattr(a, "state", None)
    return str(getattr(s, "name", s) or "").upper()


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

    def on_mount(self) -> None:
        self.update_from_app()

    def update_from_app(self) -> None:
        """Recompute the pieces from the app (re-renders only when the text changed)."""
        new = tuple(status_parts(self.app, self.screen))  # type: ignore[arg-type]
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
