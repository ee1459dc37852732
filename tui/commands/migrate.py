"""`ecotop migrate FILE`: upgrade an older file's schema after writing a backup beside it."""

from __future__ import annotations

from pathlib import Path

import click

from ecotop.tui.commands.common import guarded


@click.command()
@click.argument("file", type=click.Path(path_type=Path, readable=False))
@guarded
def migrate(file: Path) -> None:
    """Upgrade FILE to this build's schema (a backup FILE.vN.bak is written first)."""
    from ecotop.queries.files import migrate as do_migrate

    old, new, backup = do_migrate(file)
    if backup is None:
        click.echo(f"{file}: schema version {old} is current; nothing to do", err=True)
    else:
        click.echo(f"{file}: migrated schema {old} -> {new}; backup at {backup}", err=True)
