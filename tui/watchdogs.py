"""The app's watches: the writer it reads through (reopen when it dies), serving the file it writes,
and the terminal (exit when the SSH session drops). A mixin of `EcotopApp`.

The writer check and the serving start block on sockets, so they run in thread workers and post
their verdicts back as messages; only the terminal check (one ioctl) runs on the UI thread.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from textual import work
from textual.app import App
from textual.message import Message

from ecotop.queries.gateway import Gateway, Stoppable, StoreError, open_gateway


@dataclass
class WriterChanged(Message):
    """The writer watch's verdict (from its worker): gone, back through `gateway`, or still gone."""

    lost_pid: int
    gateway: Gateway | None
    error: str | None


@dataclass
class ServingStarted(Message):
    """The serving worker's result: serving, or why not."""

    serving: Stoppable | None
    error: str | None


class Watchdogs(App[None]):
    """Writer watch, serving start and terminal watchdog (thread workers where they block)."""

    gateway: Gateway
    serving: Stoppable | None
    data_as_of: datetime | None
    last_error: str | None
    _lost_writer: int | None
    _ppid: int
    #: The command line's process (not an app a test runs in-process): a hang-up ends it even when
    #: the app has returned but something keeps the process alive (a feed's thread, a stalled exit).
    exit_process_on_hangup: bool = False

    def shutdown(self) -> None:
        raise NotImplementedError  # EcotopApp

    def request_refresh(self) -> None:
        raise NotImplementedError  # RefreshCycle

    def _update_status(self) -> None:
        raise NotImplementedError  # EcotopApp

    def _watch_writer(self) -> None:
        if self.gateway.writer_pid is not None or self._lost_writer is not None:
            self._check_writer(self.gateway, self._lost_writer)

    @work(thread=True, exclusive=True, exit_on_error=False, group="writer-watch")
    def _check_writer(self, gateway: Gateway, lost: int | None) -> None:
        """When the writer this app reads through went away: keep the screen, say so, and reopen
        (through a new writer, or the file directly) as soon as that works. A worker: the ping and
        the reopen wait on a socket."""
        if lost is None:
            status = gateway.writer()
            if status.alive or status.pid is None:
                return
            lost = status.pid
        try:
            new = open_gateway(gateway.path)
        except StoreError as exc:
            self.post_message(WriterChanged(lost, None, str(exc)))
            return
        with contextlib.suppress(Exception):
            gateway.close()
        self.post_message(WriterChanged(lost, new, None))

    def on_writer_changed(self, message: WriterChanged) -> None:
        if message.gateway is None:
            self._lost_writer = message.lost_pid
            self.last_error = f"writer PID {message.lost_pid} went away; retrying ({message.error})"
            self._update_status()
            return
        self._lost_writer = None
        self.gateway = message.gateway
        self.data_as_of = None
        pid = message.gateway.writer_pid
        how = f"now via PID {pid}" if pid is not None else "reading the file directly"
        self.last_error = None
        self.notify(f"writer PID {message.lost_pid} went away; {how}", severity="warning")
        self.request_refresh()

    @work(thread=True, exclusive=True, exit_on_error=False, group="serve")
    def _start_serving(self) -> None:
        """Serve the file to other ecotop processes while this one holds it for writing."""
        try:
            serving = self.gateway.serve()
        except Exception as exc:  # other processes then see "locked by PID"; the app goes on
            self.post_message(ServingStarted(None, f"cannot serve {self.gateway.path}: {exc!r}"))
            return
        self.post_message(ServingStarted(serving, None))

    def on_serving_started(self, message: ServingStarted) -> None:
        if message.error is not None:
            self.log.warning(message.error)
        if not self.is_running and message.serving is not None:
            message.serving.stop()  # the app quit meanwhile
            return
        self.serving = message.serving

    def _install_watchdog(self) -> None:
        """Exit when the terminal goes away (SSH drop): SIGHUP, or stdin no longer a terminal."""
        try:
            import asyncio

            loop = asyncio.get_running_loop()
            loop.add_signal_handler(signal.SIGHUP, self._terminal_lost)
        except (RuntimeError, NotImplementedError, ValueError, AttributeError):
            pass
        self._ppid = os.getppid()
        self.set_interval(2.0, self._check_terminal, name="tty-watchdog")

    def _check_terminal(self) -> None:
        try:
            stdin = sys.__stdin__
            if stdin is None:
                raise ValueError("no stdin")
            fd = stdin.fileno()
            ok = os.isatty(fd)
            if ok:
                import termios

                termios.tcgetattr(fd)
        except (OSError, ValueError, AttributeError):
            ok = False
        if not ok or os.getppid() != self._ppid:
            self._terminal_lost()

    def _terminal_lost(self) -> None:
        # During start-up the app's own exit can stall (workers still starting, a file being
        # ingested): the hang-up must end the process anyway, releasing the write lock (#15.15).
        threading.Thread(target=_end_after, args=(self, HANGUP_GRACE_S), daemon=True).start()
        self.shutdown()
        self.exit(return_code=1)


HANGUP_GRACE_S = 3.0


def _end_after(app: Watchdogs, seconds: float) -> None:
    """End the process if the app is still running after `seconds` (committed data is in the WAL).

    An app that did exit is left alone unless it is the command line's (a test run goes on)."""
    time.sleep(seconds)
    if app.is_running or app.exit_process_on_hangup:
        os._exit(129)  # 128 + SIGHUP
