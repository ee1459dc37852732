"""Building the dashboard: `make_app` opens the data through the gateway and wires feed and settings.

No terminal work here (`app.run()` starts it). Used by the `dashboard` command and by tests.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ecotop.queries.errors import BadInput, NotGenerated
from ecotop.queries.gateway import Gateway, Limits, LocalGateway, open_gateway
from ecotop.tui.app import ALERT_EVERY_S, DEFAULT_ZONE, Clock, EcotopApp
from ecotop.tui.live import Feed

#: DuckDB memory for the dashboard unless configured: keeps the process well under 400 MB at scale 1.
DASHBOARD_MEMORY_LIMIT = "256MB"


def resolve_zone(*candidates: str | None) -> ZoneInfo:
    """The first valid zone name among `candidates` (flags, env, config, file), else Shanghai."""
    for name in candidates:
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                raise BadInput(
                    f"unknown time zone {name!r} (use a name like Asia/Shanghai)"
                ) from None
    return ZoneInfo(DEFAULT_ZONE)


def demo_path() -> Path:
    """Where the live demo's database lives (created by the dashboard command)."""
    import platformdirs

    return Path(platformdirs.user_data_dir("ecotop")) / "demo.duckdb"


#: The demo's simulator runs at least this many events a second (the history's own rate at scale
#: 0.02 is 0.02-0.4 ev/s: at night a 2 s refresh saw no event). The status bar says `demo ×N`.
DEMO_FLOOR_EVS = 20.0


def make_app(
    path: Path | None = None,
    *,
    live: bool = False,
    spool: Path | None = None,
    range_key: str | None = None,
    refresh_s: float | None = None,
    config_path: Path | None = None,
    clock: Clock | None = None,
    seed: int | None = None,
    rate: float | None = None,
    display_zone: str | None = None,
    show_timing: bool = True,
    watchdog: bool = True,
    feed_interval_s: float = 1.0,
    start_feed: bool = True,
    rules: Iterable[Any] | None = None,
    alert_every_s: float = ALERT_EVERY_S,
    serve: bool = True,
    settings: Any = None,
) -> EcotopApp:
    """Open the file and build the app (no terminal work here; `app.run()` starts it).

    `path=None` uses the demo database (created by the caller, see tui.commands.dashboard) with live
    simulation. A file opens read-only unless `live` (the simulator needs a generated file: raises
    NotGenerated otherwise). Settings not given here (range, refresh, display zone, alert rules,
    DuckDB limits) come from `queries.settings.load(config_path)`: ECOTOP_* variables, then the user's
    config file (or `config_path`), then the system's; pins are written to `config_path` when given.
    `rules=()` turns alerts off. `start_feed=False` builds the live feed without starting its
    thread (`app.feed.step()` drives it in tests). Raises StoreError subclasses with one-line
    messages.
    """
    from ecotop.queries import parse_range

    if settings is None:
        settings = load_settings(
            config_path, {"range": range_key, "refresh": refresh_s, "display_zone": display_zone}
        )
    range_key = parse_range(range_key or settings.range or "1h")
    refresh_s = float(refresh_s if refresh_s is not None else settings.refresh or 2.0)
    if refresh_s <= 0:
        raise BadInput(f"refresh interval must be positive, not {refresh_s:g}")
    demo = path is None
    if path is None:
        from ecotop.tui import app as app_module  # looked up there: tests replace it

        path = app_module.demo_path()
        live = True
    gateway: Gateway = open_gateway(path, write=bool(live or spool), limits=_limits(settings))
    try:
        meta = gateway.meta()
        if live and meta.get("generated") != "true":
            raise NotGenerated(Path(path))
        origin = settings.origin or {}
        configured_zone = (
            settings.display_zone if origin.get("display_zone", "default") != "default" else None
        )
        zone = resolve_zone(
            display_zone,
            os.environ.get("ECOTOP_DISPLAY_ZONE"),
            configured_zone,
            meta.get("display_zone"),
        )
        if rules is None:
            rules = tuple(settings.alerts or ())
        feed: Feed | None = None
        if isinstance(gateway, LocalGateway) and live:
            feed = _make_feed(
                gateway,
                meta,
                clock=clock,
                seed=seed,
                rate=rate,
                interval=feed_interval_s,
                floor=DEMO_FLOOR_EVS if demo and rate is None else None,
            )
        elif isinstance(gateway, LocalGateway) and spool is not None:
            from ecotop.queries.feeds import spool_feed

            feed = spool_feed(gateway, Path(spool), clock=clock)
    except BaseException:
        gateway.close()
        raise
    app = EcotopApp(
        gateway,
        live=bool(live or spool),
        serve=serve and not gateway.read_only,
        feed=feed,
        range_key=range_key,
        refresh_s=refresh_s,
        clock=clock,
        display_zone=zone,
        rules=rules,
        show_timing=show_timing,
        watchdog=watchdog,
        start_feed=start_feed,
        alert_every_s=alert_every_s,
        config_path=config_path,
        demo_factor=_demo_factor(feed) if demo else None,
    )
    theme = settings.theme
    if theme and theme in app.available_themes:
        app.theme = theme
    return app


def load_settings(config_path: Path | None, flags: dict[str, Any]) -> Any:
    """`tui.config.load` with the flags given (None values ignored)."""
    from ecotop.queries import settings as cfg

    return cfg.load(config_path, flags={k: v for k, v in flags.items() if v is not None})


def _limits(settings: Any) -> Limits:
    limits: Limits = settings.limits()
    if not (settings.memory_limit or os.environ.get("ECOTOP_MEMORY_LIMIT")):
        limits = replace(limits, memory_limit=DASHBOARD_MEMORY_LIMIT)
    return limits


def _demo_factor(feed: Feed | None) -> float | None:
    """How many times the history's own rate the demo's simulator runs (None: its own rate)."""
    from ecotop.tui.live import LiveFeed

    if not isinstance(feed, LiveFeed):
        return None
    factor = float(feed.stream.rate_factor)
    return factor if factor > 1.0 else None


def _make_feed(
    gateway: LocalGateway,
    meta: dict[str, str],
    *,
    clock: Clock | None,
    seed: int | None,
    rate: float | None,
    interval: float,
    floor: float | None = None,
) -> Feed:
    """The simulator continuing the file's history. `floor` (the demo): at least this many events
    a second now, the daily curve scaled to it, so the demo moves at every refresh at any hour."""
    from ecotop.sample_data.live import EventStream
    from ecotop.tui.app import utc_now
    from ecotop.tui.live import LiveFeed

    scale = float(meta.get("scale", "0.05") or 0.05)
    # The file's own seed continues its history (same users, merchants and daily curve).
    s = int(seed if seed is not None else int(meta.get("seed", "0") or 0))
    zone = meta.get("display_zone") or DEFAULT_ZONE
    try:
        stream = None
        if floor is not None:
            at = (clock or utc_now)()
            stream = EventStream(scale, s, display_zone=zone, rate=floor, rate_at=at)
            if stream.rate_factor <= 1.0:  # only ever faster than the history, never slower
                stream.close()
                stream = None
        if stream is None:
            stream = EventStream(scale, s, display_zone=zone, rate=rate)
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    return LiveFeed(gateway, stream, clock=clock, interval_s=interval)
