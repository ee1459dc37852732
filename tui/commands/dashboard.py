"""`ecotop [FILE]`: the live dashboard (the default command).

Without FILE it opens the demo database in the user's data directory (created on first run) and
simulates live traffic into it. With FILE it opens the file read-only and never writes to it, unless
`--live` asks for the simulator (only on files `ecotop generate` made); `--read-only` says so
explicitly (and refuses `--live` and `--spool`).

It needs a terminal: with stdin or stdout not a terminal (`ecotop | head`, cron) it says so in one
line and exits 2 before opening or creating any file.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ecotop.tui.commands.common import fail, guarded, is_tty

if TYPE_CHECKING:  # the app loads Textual: only when the dashboard really starts
    from ecotop.tui.app import EcotopApp

#: The demo database: small enough to be made in seconds on first run (scale 0.02 over 30 days is
#: ~0.7M rows, about 5 s of CPU here).
DEMO_SCALE = 0.02
DEMO_DAYS = 30
DEMO_SEED = 7


def ensure_demo(path: Path, *, scale: float = DEMO_SCALE, seed: int = DEMO_SEED) -> Path:
    """Create the demo database at `path` on first run (with a progress bar on a terminal)."""
    if path.exists():
        return path
    from datetime import UTC, datetime

    try:
        from ecotop.sample_data import generate
    except ImportError:
        from ecotop.queries.errors import BadInput

        raise BadInput("the demo needs the sample data generator, which is not installed") from None
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    click.echo(f"ecotop: creating the demo database {path} (first run) ...", err=True)
    end = datetime.now(UTC)
    kwargs = {"scale": scale, "seed": seed, "days": DEMO_DAYS}
    try:
        if is_tty():
            with click.progressbar(length=1000, label="generating", file=sys.stderr) as bar:
                done = [0]

                def progress(*args: object) -> None:  # (stage, fraction) from the generator
                    fraction = next((a for a in args if isinstance(a, int | float)), 0.0)
                    n = int(max(0.0, min(1.0, float(fraction))) * 1000)
                    if n > done[0]:
                        bar.update(n - done[0])
                        done[0] = n

                _generate(generate, tmp, end=end, progress=progress, **kwargs)
                bar.update(1000 - done[0])
        else:
            _generate(generate, tmp, end=end, progress=None, **kwargs)
        tmp.replace(path)
    finally:
        for p in (tmp, tmp.with_name(tmp.name + ".wal")):
            if p.exists():
                p.unlink()
    return path


def open_demo(**kwargs: Any) -> EcotopApp:
    """The app on the demo database: made on first run, made again when this build cannot read it,
    and watched read-only (through the running one) when another ecotop already simulates it."""
    from ecotop.queries import errors
    from ecotop.tui.app import demo_path
    from ecotop.tui.factory import make_app

    path = demo_path()
    ensure_demo(path)
    try:
        return make_app(None, **kwargs)
    except errors.Locked:
        return make_app(path, **{**kwargs, "live": False, "seed": None, "rate": None})
    except (errors.SchemaTooOld, errors.SchemaTooNew, errors.NotEcotop, errors.NotADatabase,
            errors.Damaged) as exc:  # fmt: skip
        click.echo(f"ecotop: the demo database cannot be used ({exc}); making it again", err=True)
        path.unlink()
        ensure_demo(path)
        return make_app(None, **kwargs)


def _generate(generate, path: Path, *, end, progress, **kwargs) -> None:  # type: ignore[no-untyped-def]
    """Call sample_data.generate with the keywords it accepts (end, progress are optional)."""
    import inspect

    params = inspect.signature(generate).parameters
    kwargs = {k: v for k, v in kwargs.items() if k in params or k in ("scale", "seed")}
    if "end" in params:
        kwargs["end"] = end
    if progress is not None and "progress" in params:
        kwargs["progress"] = progress
    generate(path, **kwargs)


@click.command()
@click.argument("file", required=False, type=click.Path(path_type=Path, readable=False))
@click.option(
    "--range",
    "range_key",
    default=None,
    metavar="RANGE",
    help="Time range: 15m, 1h, 24h, 7d or 30d (default 1h; `t` cycles it). Env: ECOTOP_RANGE.",
)
@click.option(
    "--refresh",
    "refresh_s",
    type=float,
    default=None,
    metavar="SECONDS",
    help="Seconds between refreshes (default 2; `+`/`-` change it). Env: ECOTOP_REFRESH.",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Config file (alert rules, display zone, defaults) instead of the user's. Env: ECOTOP_CONFIG.",
)
@click.option(
    "--live", is_flag=True, help="Simulate live traffic into FILE (a generated file only)."
)
@click.option(
    "--rate",
    type=float,
    default=None,
    metavar="EVENTS_PER_S",
    help="Simulate this many events a second, to exaggerate on purpose (default: the history's "
    "own volume and daily curve).",
)
@click.option("--seed", type=int, default=None, help="Seed of the live simulator.")
@click.option(
    "--spool",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    metavar="DIR",
    help="Ingest the event files other processes drop into DIR while showing FILE (see "
    "`ecotop ingest`).",
)
@click.option(
    "--read-only",
    "read_only",
    is_flag=True,
    help="Open FILE read-only (the default, made explicit); refuses --live and --spool.",
)
@click.option("--no-mouse", is_flag=True, help="Do not capture the mouse.")
@guarded
def dashboard(
    file: Path | None,
    range_key: str | None,
    refresh_s: float | None,
    config_path: Path | None,
    live: bool,
    rate: float | None,
    seed: int | None,
    spool: Path | None,
    read_only: bool,
    no_mouse: bool,
) -> None:
    """Watch FILE (or, without FILE, the live demo) in the dashboard.

    FILE opens read-only and is never written, unless --live adds simulated events to it.
    Keys: q quit, ? help, 1-7 pillars, t range, p pause, r refresh, a alerts, ctrl+p commands.
    """
    from ecotop.queries.errors import BadInput
    from ecotop.queries.windows import fixed_range

    if range_key is not None:
        try:
            range_key = fixed_range(range_key)
        except BadInput as exc:
            raise click.BadParameter(str(exc), param_hint="--range") from None
    if refresh_s is not None and refresh_s <= 0:
        raise click.BadParameter("must be a positive number of seconds", param_hint="--refresh")
    if rate is not None and rate <= 0:
        raise click.BadParameter("must be positive", param_hint="--rate")
    if (rate is not None or seed is not None) and not live and file is not None:
        raise click.UsageError("--rate and --seed need --live (or the demo, without FILE)")
    if spool is not None and (file is None or live):
        raise click.UsageError("--spool needs FILE and does not go with --live")
    if read_only:
        clash = "--live" if live else "--spool" if spool is not None else None
        if clash:
            fail(f"--read-only does not go with {clash}, which writes to FILE", 2)
        if file is None:
            fail("--read-only needs FILE (the demo without FILE simulates live traffic)", 2)
    if not (is_tty(sys.stdin) and is_tty(sys.stdout)):
        # Checked before any file is opened or made: `ecotop | head` must not create the demo.
        fail(
            "the dashboard needs a terminal on stdin and stdout; for scripts use "
            "`ecotop kpis`, `ecotop check` or `ecotop query`",
            2,
        )
    from ecotop.tui.factory import load_settings, make_app

    # Settings first: a bad config file fails before anything is created or opened.
    settings = load_settings(config_path, {"range": range_key, "refresh": refresh_s})
    kwargs = dict(
        live=live,
        spool=spool,
        range_key=range_key,
        refresh_s=refresh_s,
        config_path=config_path,
        seed=seed,
        rate=rate,
        settings=settings,
    )
    app = open_demo(**kwargs) if file is None else make_app(file, **kwargs)
    app.exit_process_on_hangup = True
    try:
        app.run(mouse=not no_mouse)
    finally:
        app.shutdown()
        app.db.close()
    if app.return_code:
        raise SystemExit(app.return_code)
