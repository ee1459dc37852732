"""One merchant's closed loop (`enter` on a merchant): the funnel and every tile beside it.

The funnel (Official Account reach -> ... -> repurchase) with counts and conversions, the measures
against the previous range, the GMV trend, the entry mix, Pay Score, customer groups and Channels lives
of `queries.merchant.merchant_detail`, refreshed by the app's one cycle like every EcotopScreen. Two
columns when the terminal is wide, one scrolling column when narrow (80x24).
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.events import Resize
from textual.widgets import Static

from ecotop.tui.screens.base import EcotopScreen, RefreshContext
from ecotop.tui.widgets.footer import KeyHints
from ecotop.tui.widgets.merchant_funnel import MerchantFunnel
from ecotop.tui.widgets.merchant_panels import (
    EntryMix,
    GroupsPanel,
    LivesPanel,
    MerchantMeasures,
    PayScorePanel,
    make_trend_chart,
)
from ecotop.tui.widgets.status import StatusBar

#: Below this many columns the view is one column.
WIDE = 120


class MerchantScreen(EcotopScreen):
    """The drill-down of one merchant (`MerchantScreen(merchant_id)`)."""

    DEFAULT_CSS = """
    MerchantScreen #merchant-title { height: 1; padding: 0 1; text-style: bold; }
    MerchantScreen #merchant-body { height: 1fr; }
    MerchantScreen #merchant-top, MerchantScreen #merchant-bottom { height: auto; }
    MerchantScreen #merchant-left { width: 3fr; height: auto; }
    MerchantScreen #merchant-right { width: 2fr; height: auto; }
    MerchantScreen #merchant-bottom > * { width: 1fr; }
    MerchantScreen.-narrow #merchant-top, MerchantScreen.-narrow #merchant-bottom {
        layout: vertical;
    }
    MerchantScreen.-narrow #merchant-left, MerchantScreen.-narrow #merchant-right,
    MerchantScreen.-narrow #merchant-bottom > * { width: 100%; }
    """

    def __init__(self, merchant_id: int) -> None:
        super().__init__()
        self.merchant_id = int(merchant_id)
        self.detail: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        yield Static(f"Merchant #{self.merchant_id} …", id="merchant-title")
        with VerticalScroll(id="merchant-body"):
            with Horizontal(id="merchant-top"):
                with Vertical(id="merchant-left"):
                    yield MerchantFunnel(id="merchant-funnel")
                    yield make_trend_chart("merchant-trend")
                with Vertical(id="merchant-right"):
                    yield MerchantMeasures(id="merchant-measures")
                    yield EntryMix(id="merchant-entry")
            with Horizontal(id="merchant-bottom"):
                yield PayScorePanel(id="merchant-payscore")
                yield GroupsPanel(id="merchant-groups")
                yield LivesPanel(id="merchant-lives")
        yield KeyHints()

    def on_mount(self) -> None:
        self.set_class(self.app.size.width < WIDE, "-narrow")
        self.query_one("#merchant-body").focus()

    def on_resize(self, event: Resize) -> None:
        self.set_class(event.size.width < WIDE, "-narrow")

    # -- the refresh contract -------------------------------------------------------------------

    def fetch(self, cur: Any, ctx: RefreshContext) -> dict[str, Any] | None:
        from ecotop.queries.kpis import resolve_as_of
        from ecotop.queries.merchant import MerchantNotFound, merchant_detail
        from ecotop.queries.windows import live_as_of, window

        as_of = resolve_as_of(cur, live=ctx.live, now=ctx.now) or live_as_of(ctx.now)
        shown = self.detail
        if (
            not ctx.live
            and shown is not None
            and shown["range"] == ctx.range_key
            and shown["as_of"] == as_of
        ):
            return None  # a file that does not change: the same numbers
        win = window(ctx.range_key, as_of)
        try:
            return merchant_detail(cur, self.merchant_id, win)
        except MerchantNotFound as exc:
            return {"missing": str(exc)}

    def apply(self, data: dict[str, Any] | None) -> None:
        if data is None:
            return
        title = self.query_one("#merchant-title", Static)
        if "missing" in data:
            title.update(f"✖ {data['missing']}")
            return
        self.detail = data
        m = data["merchant"]
        as_of = self.ecotop.local(data["as_of"]).strftime("%m-%d %H:%M %Z")
        title.update(
            f"{m['name']} · {m['industry']} · {m['city']} · #{m['merchant_id']}"
            f" · {data['range']} to {as_of}"
        )
        self.query_one(MerchantFunnel).show(data["funnel"])
        self.query_one("#merchant-trend").show(data)  # type: ignore[attr-defined]
        self.query_one(MerchantMeasures).show(data)
        self.query_one(EntryMix).show(data)
        self.query_one(PayScorePanel).show(data)
        self.query_one(GroupsPanel).show(data)
        self.query_one(LivesPanel).show(data, local=self.ecotop.local)
