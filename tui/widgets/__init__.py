"""ecotop's widgets: they receive data, never a connection."""

from ecotop.tui.widgets.kpi import KpiTile, TileState, tile_state
from ecotop.tui.widgets.panel import PillarPanel
from ecotop.tui.widgets.spark import Spark
from ecotop.tui.widgets.status import StatusBar

__all__ = ["KpiTile", "PillarPanel", "Spark", "StatusBar", "TileState", "tile_state"]
