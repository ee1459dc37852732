"""Pinned panels: where they are saved and how their statements run (no Textual here).

A pinned panel is a `queries.settings.Panel` (name, sql, kind) in a config file's `[[panels]]`. Pins
are written to the `--config FILE` the dashboard was started with, else $ECOTOP_CONFIG, else the
user's config file. Everything here touches the disk or the data: call it from workers only.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ecotop.queries.gateway import Gateway

#: Rows a pinned query keeps (the panel shows what fits).
PIN_ROW_LIMIT = 50
#: Seconds a pinned query may run before it is interrupted.
PIN_TIMEOUT_S = 5.0


def pins_file(config_path: Path | None) -> Path:
    """Where pins are written: the --config file, else ECOTOP_CONFIG, else the user file."""
    from ecotop.queries import settings as config

    if config_path:
        return Path(config_path).expanduser()
    env = os.environ.get(config.CONFIG_ENV)
    if env:
        return Path(env).expanduser()
    return config.user_file()


def load_panels(config_path: Path | None) -> list[Any]:
    """The pinned panels: system files, then the user's (or the --config file's)."""
    from ecotop.queries import settings as config

    try:
        return list(config.load(config_path).panels)
    except Exception:  # a broken config file is reported by the app at start; show no pins
        return []


def default_panel_name(sql: str, taken: set[str]) -> str:
    """A name from the statement's first table ("transactions"), made unique ("transactions 2")."""
    m = re.search(r"\bfrom\s+([A-Za-z_][A-Za-z0-9_.]*)", sql, re.IGNORECASE)
    base = m.group(1).split(".")[-1] if m else "query"
    name, n = base, 2
    while name in taken:
        name = f"{base} {n}"
        n += 1
    return name


def pin_panel(config_path: Path | None, name: str, sql: str, kind: str) -> Path:
    """Save the panel in the pins file; returns the file. Raises ConfigError or ValueError."""
    from ecotop.queries import settings as config

    path = pins_file(config_path)
    config.add_panel(path, config.Panel(name, sql, kind))
    return path


def unpin_panel(config_path: Path | None, name: str) -> bool:
    """Remove the panel from the pins file; False when it is not there (e.g. a system file)."""
    from ecotop.queries import settings as config

    return config.remove_panel(pins_file(config_path), name)


@dataclass
class PinnedResult:
    """One pinned statement's rows (or its one-line error) for the panel to draw."""

    name: str
    kind: str
    sql: str
    table: Any = None  # pyarrow.Table
    truncated: bool = False
    error: str | None = None
    elapsed_ms: float | None = None


def fetch_pinned(gateway: Gateway, panels: list[Any]) -> list[PinnedResult]:
    """Run every panel's statement through the guard, row- and time-limited, each on its own."""
    out: list[PinnedResult] = []
    for panel in panels:
        r = PinnedResult(panel.name, panel.kind, panel.sql)
        t0 = time.perf_counter()
        try:
            res = gateway.adhoc(panel.sql, PIN_ROW_LIMIT, timeout_s=PIN_TIMEOUT_S)
            r.table, r.truncated = res.table, res.truncated
        except Exception as exc:  # shown in the panel; the others still refresh
            text = str(exc).strip().splitlines()
            r.error = text[0] if text else type(exc).__name__
        finally:
            r.elapsed_ms = (time.perf_counter() - t0) * 1000
        out.append(r)
    return out
