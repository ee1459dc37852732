"""`Host`: what screens may ask of the app that shows them (the app implements it).

Screens depend on this Protocol, not on `tui.app`, so the imports run one way: app -> screens ->
widgets. Everything here is UI-thread state or bookkeeping; the data is reached through `gateway`
from workers only.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

from ecotop.queries.gateway import Gateway
from ecotop.tui.status import Status

if TYPE_CHECKING:
    from ecotop.queries.alerts import AlertResult, Rule


class Host(Protocol):
    """The app as its screens see it."""

    gateway: Gateway
    config_path: Path | None
    pins_version: int
    display_zone: ZoneInfo
    live: bool
    paused: bool
    immutable: bool
    range_key: str
    baseline: str
    refresh_s: float
    show_timing: bool
    data_as_of: datetime | None
    last_error: str | None
    alerts: list[AlertResult]
    rules: tuple[Rule, ...]
    clock: Callable[[], datetime]
    #: State a screen leaves for its next instance (the console's results, the catalogue).
    keep: dict[str, Any]

    def current_as_of(self) -> datetime: ...

    def local(self, ts: datetime) -> datetime: ...

    def status(self) -> Status: ...

    def set_alerts(self, alerts: list[AlertResult]) -> None: ...

    def firing_for(self, measure_id: str) -> str | None: ...

    def refresh_finished(
        self,
        screen: Any,
        elapsed_ms: float | None,
        error: BaseException | None = None,
        alerts: list[AlertResult] | None = None,
        alerts_ms: float = 0.0,
        cached: bool = False,
        as_of: datetime | None = None,
    ) -> None: ...

    def screen_became_current(self, screen: Any) -> None: ...

    def screen_gone(self, screen: Any) -> None: ...
