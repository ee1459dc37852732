"""The `ecotop` command line: the dashboard by default, and headless commands for scripts.

Commands live in tui/commands/<name>.py and are imported only when used, so `ecotop kpis` never pays
for importing Textual. Data goes to stdout, messages to stderr; exit codes: 0 ok, 1 error, 2 usage.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Callable
from typing import Any, TypeVar

import click

from ecotop.tui.commands.common import fail, guarded, is_tty, quiet_broken_pipe

__all__ = ["COMMANDS", "fail", "guarded", "is_tty", "main", "quiet_broken_pipe", "version"]

# name -> "module:attribute" of a click.Command; add a line here when a command is added.
COMMANDS: dict[str, str] = {
    "dashboard": "ecotop.tui.commands.dashboard:dashboard",
    "generate": "ecotop.tui.commands.generate:generate",
    "kpis": "ecotop.tui.commands.kpis:kpis",
    "query": "ecotop.tui.commands.query:query",
    "migrate": "ecotop.tui.commands.migrate:migrate",
    "check": "ecotop.tui.commands.check:check",
    "merchant": "ecotop.tui.commands.merchant:merchant",
    "ingest": "ecotop.tui.commands.ingest:ingest",
    "simulate": "ecotop.tui.commands.simulate:simulate",
    "serve": "ecotop.tui.commands.serve:serve",
    "lake": "ecotop.tui.commands.lake:lake",
}

F = TypeVar("F", bound=Callable[..., Any])


def version() -> str:
    """The installed ecotop version."""
    try:
        from importlib.metadata import version as v

        return v("ecotop")
    except Exception:
        return "0.0.0+unknown"


class EcotopGroup(click.Group):
    """Lazily imported subcommands; a first argument that is not a command opens the dashboard."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [n for n in COMMANDS if _available(n)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, attr = target.split(":")
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name == module:
                return None
            raise
        command = getattr(mod, attr)
        return command if isinstance(command, click.Command) else None

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and not args[0].startswith("-") and args[0] not in COMMANDS:
            _refuse_mistyped_command(args[0])
        first = next((a for a in args if not a.startswith("-")), None)
        helpish = any(a in ("--help", "-h", "--version") for a in args)
        if (first is None and not helpish) or (first is not None and first not in COMMANDS):
            args = ["dashboard", *args]
        return super().parse_args(ctx, args)


def _refuse_mistyped_command(word: str) -> None:
    """`ecotop kpi FILE`: say there is no such command (and which one was meant) instead of opening
    the dashboard on a file named `kpi`. A word that names an existing path is a FILE."""
    import difflib

    if os.path.exists(word) or "/" in word or "." in word:
        return
    close = difflib.get_close_matches(word.lower(), list(COMMANDS), n=1, cutoff=0.6)
    if close:
        fail(f"no command {word!r} (did you mean {close[0]}?)", 2)


def _available(name: str) -> bool:
    module = COMMANDS[name].split(":")[0]
    return importlib.util.find_spec(module) is not None


@click.group(cls=EcotopGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version(), "--version", prog_name="ecotop", message="%(prog)s %(version)s")
def main() -> None:
    """ecotop: `top` for a super-app ecosystem.

    Run `ecotop` for the live demo dashboard, `ecotop FILE` to watch a database, or one of the
    commands below for scripts.
    """


if __name__ == "__main__":  # pragma: no cover
    main()
