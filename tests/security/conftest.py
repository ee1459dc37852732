"""The attack suite's fixtures: a tiny ecotop file, a shared directory and a second unix user.

The second user exists only where the suite runs as root: it is created for the session
(`useradd`), used through `subprocess.run(user=..., group=...)`, and removed at the end. Elsewhere
the tests that need it skip, saying why.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sechelp import User, make_db


@pytest.fixture(scope="session")
def other_user() -> Iterator[User]:
    """A fresh unix user for the session; skipped unless the suite runs as root with useradd."""
    if os.geteuid() != 0:
        pytest.skip("needs root to create a second unix user (run the suite as root in CI)")
    if shutil.which("useradd") is None or shutil.which("userdel") is None:
        pytest.skip("needs useradd/userdel to create a second unix user")
    name = f"ecosec{secrets.token_hex(3)}"
    r = subprocess.run(["useradd", "--no-create-home", "--user-group", name], capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"useradd failed: {r.stderr.decode().strip()}")
    pw = pwd.getpwnam(name)
    try:
        yield User(name, pw.pw_uid, pw.pw_gid)
    finally:
        # its spill base (its forked commands end with os._exit, before atexit would clean)
        shutil.rmtree(f"{tempfile.gettempdir()}/ecotop-{pw.pw_uid}", ignore_errors=True)
        subprocess.run(["userdel", name], capture_output=True)
        subprocess.run(["groupdel", name], capture_output=True)


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory every user can write (like a shared group directory), outside pytest's 0700 tree."""
    d = Path(tempfile.mkdtemp(prefix="ecotop-sec-", dir="/tmp"))
    os.chmod(d, 0o777)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def dbfile(shared_dir: Path) -> Path:
    return make_db(shared_dir / "a.duckdb")
