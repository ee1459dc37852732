"""Helpers of the attack suite (imported by its conftest and tests)."""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ecotop import store
from ecotop.store.remote import read_info

ROOT = Path(__file__).resolve().parents[2]
ECOTOP = [sys.executable, "-m", "ecotop.tui.cli"]


def env(**extra: str) -> dict[str, str]:
    """The environment for an ecotop subprocess."""
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ROOT)
    e.update(extra)
    return e


@dataclass(frozen=True)
class User:
    """A second unix user with a shell account: the adversary (or a group reader)."""

    name: str
    uid: int
    gid: int

    def ecotop(self, *args: str, cwd: str = "/", timeout: float = 60) -> tuple[int, str, str]:
        """Run `ecotop ARGS` as this user: (exit code, stdout, stderr).

        A forked child of the test process drops to this user and runs the command line in
        process: the test's interpreter may live where this user cannot enter (under /root), so
        everything the commands import is imported before the fork.
        """
        import tempfile

        import ecotop.tui.cli as cli
        from ecotop.tui.commands import check, dashboard, kpis, query, serve  # noqa: F401

        for name in (
            "csv",
            "resource",
            "zoneinfo",
            "platformdirs",
            "pyarrow.flight",
            "pyarrow.parquet",
            "ecotop.store.remote",
            "ecotop.store.tempdir",
            "ecotop.queries.kpis",
        ):
            with contextlib.suppress(ImportError):
                importlib.import_module(name)

        out = tempfile.TemporaryFile()  # noqa: SIM115 - shared with the forked child
        err = tempfile.TemporaryFile()  # noqa: SIM115
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            code = 70
            try:
                os.dup2(out.fileno(), 1)
                os.dup2(err.fileno(), 2)
                # pytest replaced sys.stdout/stderr with its capture: write to the real fds
                sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
                sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
                os.setgroups([self.gid])
                os.setgid(self.gid)
                os.setuid(self.uid)
                os.chdir(cwd)
                os.environ.update(HOME=f"/nonexistent-{self.name}", USER=self.name)
                for k in ("XDG_CACHE_HOME", "XDG_STATE_HOME", "XDG_CONFIG_HOME", "ECOTOP_TEMP_DIR"):
                    os.environ.pop(k, None)
                try:
                    cli.main(list(args), prog_name="ecotop", standalone_mode=True)
                    code = 0
                except SystemExit as exc:
                    code = exc.code if isinstance(exc.code, int) else 1
                except BaseException:
                    import traceback

                    traceback.print_exc()
                    code = 71
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        deadline = time.monotonic() + timeout
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                raise AssertionError(f"ecotop {args} as {self.name} did not finish")
            time.sleep(0.02)
        out.seek(0)
        err.seek(0)
        return os.waitstatus_to_exitcode(status), out.read().decode(), err.read().decode()

    def shell(self, *args: str) -> int:
        """Run a system command (ln, touch, ...) as this user; its exit code."""
        return subprocess.run(
            list(args), user=self.uid, group=self.gid, extra_groups=[self.gid], capture_output=True
        ).returncode


def make_db(path: Path) -> Path:
    """An empty ecotop file (schema only): enough to serve and query."""
    db = store.create_db(path)
    db.con.execute("CHECKPOINT")
    db.close()
    return path


def start_serve(
    path: Path, cwd: Path | None = None, arg: str | None = None, **extra: str
) -> subprocess.Popen[str]:
    """`ecotop serve FILE` in a subprocess, returned once its info file names it."""
    proc = subprocess.Popen(
        [*ECOTOP, "serve", arg or str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env(**extra),
        cwd=cwd or ROOT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        info = read_info(path)
        if info is not None and info.pid == proc.pid:
            return proc
        if proc.poll() is not None:
            raise AssertionError(f"writer exited {proc.returncode}: {proc.stderr.read()}")  # type: ignore[union-attr]
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("writer did not start serving")


def stop(proc: subprocess.Popen[str]) -> str:
    """SIGTERM the writer and return its stderr."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.stderr.read() if proc.stderr else ""  # type: ignore[union-attr]
