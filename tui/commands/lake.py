"""`ecotop lake init|import|maintain`: create a DuckLake, move a file's events into it, keep it tidy.

A lake is named by DuckLake's attach string (`ducklake:postgres:dbname=eco host=... user=...` or
`ducklake:FILE.ducklake`); every other command takes it where it takes FILE. Passwords come from
PGPASSWORD, a password file or a service file, never from the string. A JSON summary goes to stdout;
errors are one line on stderr, exit 1.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from ecotop.tui.commands.common import guarded


@click.group()
def lake() -> None:
    """Create and look after a DuckLake that many hosts share (see docs/SCALE.md)."""


def _emit(summary: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(summary, indent=2, default=str) + "\n")
    sys.stdout.flush()


@lake.command("init")
@click.argument("uri")
@click.option(
    "--data",
    "data_dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Directory for the lake's Parquet files (created, mode 0700; recorded in the catalog).",
)
@guarded
def init(uri: str, data_dir: Path) -> None:
    """Create the catalog and the schema of a new lake URI whose data goes under DIR."""
    from ecotop.queries import lake as ops

    t0 = time.perf_counter()
    summary = ops.init(uri, str(data_dir))
    summary["elapsed_s"] = round(time.perf_counter() - t0, 2)
    click.echo(f"created lake {uri} (data in {summary['data']})", err=True)
    _emit(summary)


@lake.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("uri")
@guarded
def import_(file: Path, uri: str) -> None:
    """Copy every event, rollup and ingest_log row of FILE into the (empty) lake URI."""
    from ecotop.queries import lake as ops

    ops.parse_uri(uri)
    t0 = time.perf_counter()
    counts = ops.import_file(file, uri)
    elapsed = time.perf_counter() - t0
    rows = sum(counts.values())
    click.echo(f"imported {rows:,} rows of {file} into {uri} in {elapsed:.1f} s", err=True)
    _emit({"file": str(file), "lake": uri, "rows": counts, "elapsed_s": round(elapsed, 2)})


@lake.command("maintain")
@click.argument("uri")
@click.option(
    "--older-than",
    default="1 hour",
    show_default=True,
    help="Expire snapshots older than this (e.g. '30 minutes', '2 days').",
)
@guarded
def maintain(uri: str, older_than: str) -> None:
    """Merge small files, expire old snapshots and delete files nothing refers to."""
    from ecotop.queries import lake as ops

    t0 = time.perf_counter()
    summary: dict[str, object] = {"lake": uri, **ops.maintain(uri, older_than=older_than)}
    summary["elapsed_s"] = round(time.perf_counter() - t0, 2)
    click.echo(f"{uri}: {summary['files_before']} data files -> {summary['files_after']}", err=True)
    _emit(summary)


@lake.command("migrate")
@click.argument("uri")
@guarded
def migrate(uri: str) -> None:
    """Upgrade the lake URI to this build's schema (one lake transaction per version)."""
    from ecotop.queries import lake as ops

    old, new, before = ops.migrate_lake(uri)
    if before is None:
        click.echo(f"{uri}: schema version {old} is current; nothing to do", err=True)
    else:
        click.echo(
            f"{uri}: migrated schema {old} -> {new}; the lake as it was is snapshot {before}",
            err=True,
        )
    _emit({"lake": uri, "from": old, "to": new, "snapshot_before": before})
