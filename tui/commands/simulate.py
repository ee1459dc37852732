"""`ecotop simulate --spool DIR`: a real producer of event files for `ecotop ingest` or `ecotop FILE
--spool DIR`, without ever opening the database.

It runs the sample generator's live process (sample_data.live.EventStream) with the scale and seed
of a file `ecotop generate` made, so its users, merchants, accounts, Mini Programs, groups and
channels exist there (new users and merchants arrive in the files themselves), and writes one file
per interval, stamped with the current time, as `.<name>.tmp` renamed into place. Outcomes (refunds,
Pay Score completion and collection, the end of a live) follow as their own events when they happen.
A JSON summary of what it wrote goes to stdout.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from ecotop.tui.commands.common import guarded

DEFAULT_SCALE = 0.05  # the demo database's (tui.commands.dashboard)
DEFAULT_SEED = 7


def _parse_time(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not an ISO time such as 2026-11-20T12:00:00+08:00", param_hint="--start"
        ) from None
    if t.tzinfo is None:
        raise click.BadParameter("give a UTC offset, e.g. +08:00 or Z", param_hint="--start")
    return t


def _parse_producer(_ctx: click.Context, _param: click.Parameter, text: str) -> tuple[int, int]:
    """`K/N` as (K, N), 1 <= K <= N."""
    k_text, _, n_text = text.partition("/")
    try:
        k, n = int(k_text), int(n_text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not K/N such as 1/2") from None
    if not 1 <= k <= n:
        raise click.BadParameter(f"{text!r}: K/N needs 1 <= K <= N")
    return k, n


@click.command()
@click.option(
    "--spool",
    "spool_dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="The spool directory to write event files into (created if missing).",
)
@click.option(
    "--scale",
    type=float,
    default=DEFAULT_SCALE,
    show_default=True,
    help="Scale of the file the events are for (as given to `ecotop generate`).",
)
@click.option(
    "--seed", type=int, default=DEFAULT_SEED, show_default=True, help="Seed of that file."
)
@click.option(
    "--rate",
    type=float,
    default=None,
    metavar="EVENTS_PER_S",
    help="Events a second around the start (default: the history's own volume); the daily "
    "curve goes on from there.",
)
@click.option("--events", "max_events", type=int, default=None, help="Stop after N events.")
@click.option("--duration", type=float, default=None, metavar="SECONDS", help="Stop after S s.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["ndjson", "parquet", "csv"]),
    default="ndjson",
    show_default=True,
)
@click.option(
    "--interval",
    type=float,
    default=1.0,
    show_default=True,
    metavar="SECONDS",
    help="One file per interval (of the events stamped in it).",
)
@click.option(
    "--start",
    "start_text",
    default=None,
    metavar="TIME",
    help="Stamp events from TIME on instead of now (to continue a file that ends earlier).",
)
@click.option(
    "--speed",
    type=float,
    default=1.0,
    show_default=True,
    help="Run the event clock this many times faster than the wall clock (to fast-forward).",
)
@click.option(
    "--zone", default="Asia/Shanghai", show_default=True, help="Display zone of the file."
)
@click.option(
    "--producer",
    "share",
    default="1/1",
    show_default=True,
    metavar="K/N",
    callback=_parse_producer,
    help="Be producer K of N for the same file or lake: each writes its own share of the "
    "events (--rate and the default volume are the N producers' total), no id twice.",
)
@guarded
def simulate(
    spool_dir: Path,
    scale: float,
    seed: int,
    rate: float | None,
    max_events: int | None,
    duration: float | None,
    fmt: str,
    interval: float,
    start_text: str | None,
    speed: float,
    zone: str,
    share: tuple[int, int],
) -> None:
    """Write realistic event files into DIR until stopped (Ctrl+C), --events or --duration.

    The ids agree with a file `ecotop generate` made with the same --scale and --seed; the events
    continue its history from now (or --start), so use a file that reaches to about now. With
    --producer K/N, N producers (each with its own spool) share the events between them.
    """
    if interval <= 0:
        raise click.BadParameter("must be positive", param_hint="--interval")
    if rate is not None and rate <= 0:
        raise click.BadParameter("must be positive", param_hint="--rate")
    if max_events is not None and max_events <= 0:
        raise click.BadParameter("must be positive", param_hint="--events")
    if duration is not None and duration <= 0:
        raise click.BadParameter("must be positive", param_hint="--duration")
    if speed <= 0:
        raise click.BadParameter("must be positive", param_hint="--speed")
    start = _parse_time(start_text)
    if start is not None and start > datetime.now(UTC):
        raise click.BadParameter(
            "must not lie in the future (events are stamped no later than they are written)",
            param_hint="--start",
        )
    from ecotop.queries.errors import BadInput
    from ecotop.sample_data.live import EventStream
    from ecotop.sample_data.producer import Producer

    spool_dir.mkdir(parents=True, exist_ok=True)
    origin = start or datetime.now(UTC)
    try:
        stream = EventStream(
            scale, seed, display_zone=zone, rate=rate, rate_at=origin, producer=share
        )
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    producer = Producer(stream, spool_dir, fmt)
    stop = threading.Event()
    caught: list[int] = []

    def on_signal(signum: int, _frame: Any) -> None:
        caught.append(signum)
        stop.set()

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    t0 = time.monotonic()

    def clock() -> datetime:
        # the event clock runs `speed` times the wall clock but never passes it: no event, and
        # no outcome, is stamped after the moment its file is written
        return min(origin + timedelta(seconds=(time.monotonic() - t0) * speed), datetime.now(UTC))

    first = last = clock()
    try:
        while not stop.is_set():
            # one file per interval: `speed` times the interval of event time while fast-forwarding,
            # the interval itself once the event clock has caught up with now (files keep coming
            # every interval instead of waiting for a sped-up span that lies in the future)
            while True:
                fast = origin + timedelta(seconds=(time.monotonic() - t0) * speed)
                now = datetime.now(UTC)
                behind = fast < now
                nxt = last + timedelta(seconds=interval * (speed if behind else 1.0))
                ahead = (nxt - min(fast, now)).total_seconds()
                if ahead <= 0 or stop.wait(min(0.25, ahead / (speed if behind else 1.0))):
                    break
            if stop.is_set():
                break
            left = None if max_events is None else max_events - producer.events
            try:
                producer.tick(last, nxt, limit=left)
            except (OSError, ValueError):
                raise
            except Exception as exc:  # the generator's own failure, as one line
                first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise BadInput(f"the event stream failed: {first_line}") from None
            last = nxt
            if max_events is not None and producer.events >= max_events:
                break
            if duration is not None and time.monotonic() - t0 >= duration:
                break
    except KeyboardInterrupt:
        caught.append(signal.SIGINT)
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        stream.close()
    summary = {
        "spool": str(spool_dir),
        "format": fmt,
        "scale": scale,
        "seed": seed,
        "producer": f"{share[0]}/{share[1]}",
        "files": producer.files,
        "events": producer.events,
        "by_kind": dict(sorted(producer.by_kind.items())),
        "from": first.isoformat(),
        "until": last.isoformat(),
        "outcomes_not_yet_due": len(producer.pending),
        "elapsed_s": round(time.monotonic() - t0, 3),
    }
    click.echo(json.dumps(summary, indent=2))
    sys.stdout.flush()
    if caught and caught[0] == signal.SIGINT:
        sys.exit(130)
