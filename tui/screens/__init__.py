"""ecotop's screens. Every refreshing screen subclasses `tui.screens.base.EcotopScreen`."""

from ecotop.tui.screens.base import EcotopScreen, OpenMerchant, RefreshContext

__all__ = ["EcotopScreen", "OpenMerchant", "RefreshContext"]
