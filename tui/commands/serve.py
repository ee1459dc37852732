"""`ecotop serve FILE [--spool DIR]`: hold FILE for writing and serve it to every other ecotop."""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path

import click

from ecotop.tui.commands.common import guarded


@click.command()
@click.argument("file", type=click.Path(path_type=Path, readable=False))
@click.option(
    "--spool",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="also ingest files dropped in this directory",
)
@guarded
def serve(file: Path, spool: Path | None) -> None:
    """Serve FILE to other ecotop processes (headless, e.g. under systemd).

    While one process writes a DuckDB file no other process can open it; this one holds it and
    answers every other `ecotop` on the same file through a unix socket beside it.
    """
    from ecotop import queries
    from ecotop.queries.files import Serving, open_db

    db = open_db(file, write=True)
    stop = threading.Event()

    def _stop(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    ingester = None
    # a lake needs no serving (every process on every host opens it itself): only --spool
    lake = db.is_lake
    serving = None if lake else Serving(db, named=lambda name: queries.get(name).sql)
    try:
        if spool is not None:
            from ecotop.tui.spooling import start_spool_thread

            ingester = start_spool_thread(db, spool)
        where = "nothing to serve for a lake" if serving is None else f"on {serving.socket}"
        click.echo(f"ecotop: serving {file} {where} (PID {os.getpid()})", err=True)
        while not stop.wait(0.5):
            pass
    finally:
        if ingester is not None:
            ingester.stop()
        if serving is not None:
            serving.stop()
        db.close()
    click.echo("ecotop: stopped serving", err=True)
    sys.exit(0)
