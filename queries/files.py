"""The store's entry points for the commands that manage files and writers (open, create, migrate,
serve, ingest a spool, run ad-hoc SQL headless), re-exported so that ecotop.tui never imports
ecotop.store. Loaded on first use: `ecotop kpis` must not pay for Flight or the SQL guard.

The dashboard itself goes through `queries.gateway` instead.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "Database": "ecotop.store.db",
    "Limits": "ecotop.store.db",
    "SCHEMA_VERSION": "ecotop.store.db",
    "create_db": "ecotop.store.db",
    "migrate": "ecotop.store.db",
    "open_db": "ecotop.store.db",
    "guard": "ecotop.store.guard",  # the module itself
    "Serving": "ecotop.store.server",
    "Spool": "ecotop.store.spool",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(where)
    return module if where.endswith("." + name) else getattr(module, name)
