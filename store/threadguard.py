"""A tripwire for database work on the interface's thread (on in tests, off otherwise).

The dashboard must never touch DuckDB, a socket or the disk on the thread that draws the screen.
When `ECOTOP_UI_THREAD_GUARD=1` (the test suite sets it), the app calls `arm()` from its own event
loop task; from then on `check()` raises `UIThreadViolation` when called from that thread *and* that
task's context (a test's own coroutine on the same thread, or a worker thread, is not the interface).
Every gateway method, every guarded DuckDB cursor call and every Flight call calls `check()` first.
"""

from __future__ import annotations

import os
import threading
from contextvars import ContextVar

ENV = "ECOTOP_UI_THREAD_GUARD"

_ui_thread: int | None = None
_in_ui: ContextVar[bool] = ContextVar("ecotop_in_ui", default=False)
#: Every violation seen since the last arm() (a caller may swallow the exception; tests read this).
violations: list[str] = []


class UIThreadViolation(RuntimeError):
    """Database or socket work was attempted on the interface's thread."""


def enabled() -> bool:
    """True when the tripwire is on (tests set ECOTOP_UI_THREAD_GUARD=1)."""
    return os.environ.get(ENV, "") not in ("", "0")


def arm() -> None:
    """Mark the calling thread and task as the interface's (call from the app's event loop task)."""
    global _ui_thread
    if not enabled():
        return
    _ui_thread = threading.get_ident()
    _in_ui.set(True)
    violations.clear()


def disarm() -> None:
    """Forget the interface thread (the app ended); call it from the context that armed it."""
    global _ui_thread
    _ui_thread = None
    _in_ui.set(False)


def check(what: str = "database work") -> None:
    """Raise UIThreadViolation when called on the armed interface thread and task."""
    if _ui_thread is not None and _in_ui.get() and threading.get_ident() == _ui_thread:
        violations.append(what)
        raise UIThreadViolation(f"{what} on the interface thread")
