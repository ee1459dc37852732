"""Shared fixtures: one generated sample file per test session.

`small_db` is a path to a scale-0.01 file made by `sample_data.generate` (seed 7, 60 days ending at
`small_db_end`); it is generated once per session and must be opened read-only by tests (copy it to
tmp_path first to write into it).
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import pytest

# Every Pilot test runs with the tripwire on: data work on the app's thread raises (store.threadguard).
os.environ.setdefault("ECOTOP_UI_THREAD_GUARD", "1")

SMALL_SCALE = 0.01
SMALL_SEED = 7
SMALL_DAYS = 60
SMALL_END = datetime.fromisoformat("2026-11-20T12:00:00+08:00")


@pytest.fixture(scope="session")
def small_db_end() -> datetime:
    """The end of the small sample file's history (2026-11-20 12:00 Asia/Shanghai)."""
    return SMALL_END


@pytest.fixture(scope="session")
def small_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scale-0.01 sample file (seed 7, 60 days ending at small_db_end), generated once."""
    from ecotop.sample_data import generate

    path = tmp_path_factory.mktemp("small_db") / "small.duckdb"
    generate(path, scale=SMALL_SCALE, seed=SMALL_SEED, days=SMALL_DAYS, end=SMALL_END)
    return path
