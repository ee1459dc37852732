"""`ecotop ingest FILE --spool DIR`: load the event files other processes drop into DIR, exactly once.

`--once` (the default) loads what is waiting and exits; `--watch` keeps watching until SIGINT or
SIGTERM, which finish the file in hand (a file is one transaction) and exit 130 or 0. Per-file lines
go to stderr, a JSON summary to stdout. The file format is in the README ("Feeding ecotop").
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import click

from ecotop.tui.commands.common import guarded


def _crash_hook() -> Any:
    """Test aid: ECOTOP_SPOOL_CRASH_AT=point[:n] ends the process abruptly (like kill -9) at the
    n-th time (default 1st) ingestion passes `point` (before_commit, after_commit, after_move)."""
    spec = os.environ.get("ECOTOP_SPOOL_CRASH_AT")
    if not spec:
        return None
    point, _, nth = spec.partition(":")
    left = [int(nth or 1)]

    def crash(at: str) -> None:
        if at == point:
            left[0] -= 1
            if left[0] == 0:
                os._exit(137)

    return crash


def _line(res: Any, spool_dir: Path) -> str:
    if res.outcome == "ingested":
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(res.kinds.items(), key=lambda kv: -kv[1]))
        return f"ingested {res.name}: {res.rows} events ({kinds}) in {res.elapsed_s:.2f} s"
    if res.outcome == "duplicate":
        return f"skipped {res.name}: already ingested (same sha256); logged as duplicate"
    first = res.problems[0].text(res.unit) if res.problems else "rejected"
    more = f" (+{res.total_problems - 1} more)" if res.total_problems > 1 else ""
    where = res.moved_to.name if res.moved_to else res.name
    return f"rejected {res.name}: {first}{more}; see {spool_dir / 'rejected' / where}.reason"


@click.command()
@click.argument("file", type=click.Path(path_type=Path, readable=False))
@click.option(
    "--spool",
    "spool_dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="The spool directory other processes drop event files into.",
)
@click.option("--once", "mode", flag_value="once", default=True, help="Load what waits, then exit.")
@click.option("--watch", "mode", flag_value="watch", help="Keep loading until SIGINT/SIGTERM.")
@click.option(
    "--delete", is_flag=True, help="Delete ingested files instead of moving them to done/."
)
@click.option(
    "--interval",
    type=float,
    default=0.5,
    show_default=True,
    metavar="SECONDS",
    help="How often --watch looks for new files when idle.",
)
@click.option(
    "--wal-limit",
    type=float,
    default=64,
    show_default=True,
    metavar="MIB",
    help="CHECKPOINT when the write-ahead log grows past this size.",
)
@click.option("-q", "--quiet", is_flag=True, help="No per-file lines on stderr.")
@guarded
def ingest(
    file: Path,
    spool_dir: Path,
    mode: str,
    delete: bool,
    interval: float,
    wal_limit: float,
    quiet: bool,
) -> None:
    """Load the event files waiting in DIR into FILE, each exactly once.

    Each file is loaded in one transaction with its rollups and an ingest_log row, then moved to
    DIR/done/ (or deleted with --delete). A file with bad input moves to DIR/rejected/ with a
    .reason file naming the line and field; the others go on. Producers write `*.tmp` or dotfiles
    and rename them into place; those are never read.
    """
    if interval <= 0:
        raise click.BadParameter("must be positive", param_hint="--interval")
    if wal_limit <= 0:
        raise click.BadParameter("must be positive", param_hint="--wal-limit")
    from ecotop.queries.errors import BadInput
    from ecotop.queries.files import Spool, open_db

    if not spool_dir.is_dir():
        raise BadInput(f"{spool_dir}: no such spool directory")
    stop = threading.Event()
    caught: list[int] = []

    def on_signal(signum: int, _frame: Any) -> None:
        caught.append(signum)
        stop.set()
        # A second Ctrl+C stops at once: the file in hand rolls back and stays in the spool.
        signal.signal(signal.SIGINT, signal.default_int_handler)

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    summary: dict[str, Any] = {
        "spool": str(spool_dir),
        "files": 0,
        "ingested": 0,
        "duplicate": 0,
        "rejected": 0,
        "events": 0,
        "by_kind": {},
    }
    t0 = time.perf_counter()
    failure: BadInput | None = None
    db = open_db(file, write=True)
    spool = None
    serving = None
    try:
        if mode == "watch" and not getattr(db, "is_lake", False):
            # while this process holds the file, every other ecotop on it answers through it (a
            # lake needs no serving: every process on every host opens it itself)
            from ecotop import queries
            from ecotop.queries.files import Serving

            serving = Serving(db, named=lambda name: queries.get(name).sql)
        spool = Spool(
            db,
            spool_dir,
            delete=delete,
            wal_limit=int(wal_limit * 1024 * 1024),
            crash=_crash_hook(),
        )

        def count(res: Any) -> None:
            summary["files"] += 1
            summary[res.outcome] += 1
            if res.outcome == "ingested":
                summary["events"] += res.rows
                for k, n in res.kinds.items():
                    summary["by_kind"][k] = summary["by_kind"].get(k, 0) + n
            if not quiet:  # one line per file as it is done, flushed: a log others may tail
                print(_line(res, spool_dir), file=sys.stderr, flush=True)

        while True:
            spool.run_once(stop, on_result=count)
            if mode == "once" or stop.is_set():
                break
            if not spool.pending():
                spool.maybe_checkpoint(limit=spool.wal_limit // 4)
                stop.wait(interval)
    except KeyboardInterrupt:
        caught.append(signal.SIGINT)
    # the spool directory went away or broke: stop with the summary (#15.11)
    except BadInput as exc:
        failure = exc
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        if spool is not None:
            summary["wal_peak_bytes"] = spool.wal_peak
            summary["checkpoints"] = spool.checkpoints
            spool.close()
        if serving is not None:
            serving.stop()
        db.close()
    elapsed = time.perf_counter() - t0
    summary["elapsed_s"] = round(elapsed, 3)
    summary["events_per_s"] = round(summary["events"] / elapsed, 1) if elapsed > 0 else None
    if caught:
        summary["stopped_by"] = signal.Signals(caught[0]).name
    elif failure is not None:
        summary["stopped_by"] = "error"
    click.echo(json.dumps(summary, indent=2))
    sys.stdout.flush()
    if failure is not None:
        raise failure
    if caught and caught[0] == signal.SIGINT:
        sys.exit(130)
    if mode == "once" and summary["rejected"]:
        click.echo(
            f"ecotop: {summary['rejected']} file(s) rejected; reasons in {spool_dir / 'rejected'}",
            err=True,
        )
        sys.exit(1)
