"""`Status`: everything the status bar shows, as one value the app builds and hands to the bar.

The bar never reads the app: the app calls `screen.show_status(app.status())` whenever something
shown changes, and `status_parts` turns the value into pieces by priority.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ecotop.queries.alerts import AlertResult


def alert_state(a: AlertResult) -> str:
    """ "OK", "WARNING", "CRITICAL" or "UNKNOWN": one alert result's state."""
    return a.state.name.upper()


@dataclass(frozen=True)
class Status:
    """The app's state as the status bar shows it (no data work: plain values)."""

    live: bool = False
    paused: bool = False
    paused_at: datetime | None = None
    paused_events: int = 0
    writer_pid: int | None = None  # reading through another process ("via PID n")
    as_of: datetime | None = None  # live: when fetched; a file: its newest data
    stale_since: datetime | None = None
    range_key: str = "1h"
    baseline: str = ""  # what the changes compare with: previous, day or week ("" says nothing)
    events_per_s: float | None = None
    show_timing: bool = True
    refreshed_at: datetime | None = None
    query_ms: float | None = None
    cached: bool = False
    refresh_s: float = 2.0
    error: str | None = None
    feed_error: str | None = None
    alerts: tuple[str, ...] = ()  # each alert's state name
    zone: tzinfo = UTC
    #: the demo's simulator runs this many times the history's rate ("demo ×N"); None: it does not
    demo_factor: float | None = None

    def local(self, ts: datetime) -> datetime:
        """`ts` in the display zone."""
        if ts.tzinfo is None:
            ts = ts.replace(tzinfo=UTC)
        return ts.astimezone(self.zone)


def baseline_label(baseline: str, range_key: str) -> str:
    """What the changes compare with, in words: `vs last week`, `vs yesterday`, `vs previous 1h`."""
    return {"week": "vs last week", "day": "vs yesterday"}.get(baseline, f"vs previous {range_key}")


def status_parts(s: Status) -> list[tuple[str, str, int]]:
    """(text, style class, priority) pieces; lower priority numbers survive narrow terminals."""
    parts: list[tuple[str, str, int]] = []
    fmt = "%H:%M:%S"
    if s.paused:
        since = s.local(s.paused_at).strftime("%H:%M:%S") if s.paused_at else ""
        extra = f", {s.paused_events:,} events arrived" if s.live else ""
        parts.append((f"❚❚ PAUSED {since}{extra}", "status-bar--paused", 0))
    elif s.live:
        parts.append(("● LIVE", "status-bar--live", 0))
        if s.demo_factor is not None:
            parts.append((f"demo ×{s.demo_factor:,.0f}", "status-bar--live", 0))
    else:
        parts.append(("■ FILE", "status-bar--file", 0))
    if s.writer_pid is not None:
        parts.append((f"via PID {s.writer_pid}", "status-bar--remote", 0))
    if s.as_of is not None:
        zone = s.local(s.as_of).strftime("%Z")
        label = "as of" if s.live else "data to"
        parts.append((f"{label} {s.local(s.as_of).strftime('%m-%d ' + fmt)} {zone}", "", 1))
    if s.stale_since is not None:
        since = s.local(s.stale_since).strftime("%H:%M")
        parts.append((f"⚠ stale since {since}", "status-bar--stale", 0))
    against = f" {baseline_label(s.baseline, s.range_key)}" if s.baseline else ""
    parts.append((f"range {s.range_key}{against}", "status-bar--range", 1))
    if s.live and s.events_per_s is not None and not s.paused:
        rate = s.events_per_s
        parts.append((f"{rate:,.1f} ev/s" if rate < 10 else f"{rate:,.0f} ev/s", "", 3))
    if s.show_timing and s.refreshed_at is not None:
        ms = f" ({s.query_ms:.0f} ms)" if s.query_ms is not None else ""
        if s.cached:
            ms = " (file unchanged)"
        parts.append((f"refreshed {s.local(s.refreshed_at).strftime(fmt)}{ms}", "", 4))
    parts.append((f"every {s.refresh_s:g}s", "", 5))
    if s.error:
        parts.append((f"✖ {s.error}", "status-bar--error", 0))
    if s.feed_error is not None:
        parts.append((f"✖ live feed stopped: {s.feed_error}", "status-bar--error", 0))
    firing = [a for a in s.alerts if a in ("WARNING", "CRITICAL")]
    if firing:
        sym = "✖" if "CRITICAL" in firing else "⚠"
        n = len(firing)
        parts.append((f"{sym} {n} alert{'s' if n > 1 else ''} (a)", "status-bar--alert", 0))
    return parts
