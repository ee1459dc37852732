"""ecotop's widgets: they receive data, never a connection.

The names below are imported on first use (PEP 562), so a headless command can import the pure
formatting module `ecotop.tui.widgets.format` without importing Textual.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ecotop.tui.widgets.kpi import KpiTile, TileState, tile_state
    from ecotop.tui.widgets.panel import PillarPanel
    from ecotop.tui.widgets.spark import Spark
    from ecotop.tui.widgets.status import StatusBar

_WHERE = {
    "KpiTile": "kpi",
    "TileState": "kpi",
    "tile_state": "kpi",
    "PillarPanel": "panel",
    "Spark": "spark",
    "StatusBar": "status",
}

__all__ = ["KpiTile", "PillarPanel", "Spark", "StatusBar", "TileState", "tile_state"]


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"ecotop.tui.widgets.{where}"), name)
