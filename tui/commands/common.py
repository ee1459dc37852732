"""What every command shares: one-line errors with their exit code, quiet broken pipes, tty tests.

Commands import this, never `tui.cli` (the command line sits above its commands and loads them).
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from ecotop.queries.errors import StoreError

F = TypeVar("F", bound=Callable[..., Any])


def guarded(fn: F) -> F:
    """Run a command body turning every user-caused error into a one-line message and exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except StoreError as exc:
            fail(str(exc), exc.exit_code)
        except BrokenPipeError:
            quiet_broken_pipe()
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)

    return wrapper  # type: ignore[return-value]


def fail(message: str, code: int = 1) -> None:
    """Print `ecotop: message` on stderr and exit with `code`."""
    click.echo(f"ecotop: {message}", err=True)
    sys.exit(code)


def quiet_broken_pipe() -> None:
    """End quietly when stdout's reader went away (`ecotop kpis | head`)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass
    sys.exit(0)


def is_tty(stream: Any = None) -> bool:
    """True when `stream` (default stderr) is a terminal: progress bars and colour only then."""
    stream = stream or sys.stderr
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
