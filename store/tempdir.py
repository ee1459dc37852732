"""A private temporary directory per process for DuckDB's spill files.

SQL can read DuckDB's temp directory even with external access off (the one place the second layer
of the guard allows), and a killed query leaves its spill files there. So each process spills into a
fresh 0700 directory of its own inside ECOTOP_TEMP_DIR (default: the user's cache directory, or
/tmp when there is no home): created exclusively (mkdtemp), removed at exit, and at start the
directories of this user's processes that are gone are removed. Nothing of another user is touched,
and a base directory that is a link, or someone else's, or writable by others is not used.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import stat
import tempfile
from pathlib import Path

__all__ = ["process_temp_dir"]

_PREFIX = "ecotop-"
_mine: dict[tuple[int, str], str] = {}


def _safe_base(path: Path) -> bool:
    """True when `path` is a real directory of this user that nobody else may write."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return (
        stat.S_ISDIR(st.st_mode)
        and st.st_uid == os.getuid()
        and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    )


def _default_base() -> Path:
    with contextlib.suppress(Exception):
        import platformdirs

        base = Path(platformdirs.user_cache_dir("ecotop")) / "duckdb-tmp"
        with contextlib.suppress(OSError):
            base.mkdir(parents=True, exist_ok=True, mode=0o700)
        if _safe_base(base):
            return base
    base = Path(tempfile.gettempdir()) / f"ecotop-{os.getuid()}"
    with contextlib.suppress(OSError):
        base.mkdir(mode=0o700)
    if _safe_base(base):
        return base
    # squatted or shared: a fresh private one for this process only
    return Path(tempfile.mkdtemp(prefix=f"ecotop-{os.getuid()}-"))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _sweep(base: Path) -> None:
    """Remove this user's directories of processes that no longer exist."""
    with contextlib.suppress(OSError):
        for entry in os.scandir(base):
            name = entry.name
            if not name.startswith(_PREFIX):
                continue
            try:
                pid = int(name[len(_PREFIX) :].split("-", 1)[0])
                st = entry.stat(follow_symlinks=False)
            except (ValueError, OSError):
                continue
            if stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not _pid_alive(pid):
                shutil.rmtree(entry.path, ignore_errors=True)


def process_temp_dir(base: str | os.PathLike[str] | None = None) -> str:
    """This process's private spill directory inside `base` (ECOTOP_TEMP_DIR), made on first use."""
    key = (os.getpid(), str(base or ""))
    found = _mine.get(key)
    if found is not None and os.path.isdir(found):
        return found
    root = Path(base) if base else _default_base()
    if base:
        with contextlib.suppress(OSError):
            root.mkdir(parents=True, exist_ok=True, mode=0o700)
    _sweep(root)
    made = tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-", dir=root)
    _mine[key] = made
    atexit.register(_remove, made, os.getpid())
    return made


def _remove(path: str, pid: int) -> None:
    if os.getpid() == pid:  # not in a forked child
        shutil.rmtree(path, ignore_errors=True)
