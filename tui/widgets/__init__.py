"""ecotop's widgets: they receive data, never a connection."""

from tui.widgets.kpi import KpiTile, TileState, tile_state
from tui.widgets.panel import PillarPanel
from tui.widgets.spark import Spark
from tui.widgets.status import StatusBar

__all__ = ["KpiTile", "PillarPanel", "Spark", "StatusBar", "TileState", "tile_state"]
