"""The tiles of the merchant view beside the funnel: measures, entry mix, Pay Score, customer groups,
Channels lives, and the GMV trend chart (textual-plotext, imported only when the chart is made).

Each panel keeps what it shows as a tuple of display strings and repaints only when that changes. They
receive the dict of `queries.merchant.merchant_detail`, never a connection.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from ecotop.tui.widgets.format import DASH, format_change, format_count, format_rate, format_value
from ecotop.tui.widgets.merchant_funnel import bar

PANEL_CSS = """
    height: auto;
    border: round $panel-lighten-2;
    border-title-color: $text;
    padding: 0 1;
"""

# The measures tile, in order: (measure, label).
MEASURE_ROWS: list[tuple[str, str]] = [
    ("gmv", "GMV"),
    ("orders", "Orders"),
    ("aov", "AOV"),
    ("refund_rate", "Refund rate"),
    ("payers", "Payers"),
    ("new_payers", "New payers"),
    ("returning_payers", "Returning payers"),
    ("member_share", "Member share of GMV"),
    ("pay_to_member", "Pay-to-member rate"),
    ("repeat_rate", "Paid 2+ times in range"),
    ("repurchase_30d", "Repurchase within 30d"),
    ("repurchase_90d", "Repurchase within 90d"),
]

ENTRY_LABELS = {
    "qr": "QR code",
    "face": "Face pay",
    "mini_program": "Mini Program",
    "in_app": "In-app",
    "channels_live": "Channels live",
}


class _Panel(Widget):
    """A bordered panel that renders `rows` (a tuple of tuples of strings) as a grid."""

    DEFAULT_CSS = f"_Panel {{ {PANEL_CSS} }}"
    rows: reactive[tuple[tuple[str, ...], ...] | None] = reactive(None, layout=True)
    #: (justify per column) of the grid
    JUSTIFY: tuple[str, ...] = ("left", "right")
    EMPTY = "…"

    def __init__(self, title: str, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.border_title = title

    def set_rows(self, rows: Sequence[tuple[Any, ...]], subtitle: str | None = None) -> None:
        new = tuple(tuple(r) for r in rows)
        if subtitle is not None and subtitle != self.border_subtitle:
            self.border_subtitle = subtitle
        if new != self.rows:
            self.rows = new

    def render(self) -> RenderableType:
        if self.rows is None:
            return Text(self.EMPTY, style="dim")
        if not self.rows:
            return Text("none in this range", style="dim")
        grid = Table.grid(padding=(0, 1), expand=False)
        for j in self.JUSTIFY:
            grid.add_column(justify=j, no_wrap=True)  # type: ignore[arg-type]
        for row in self.rows:
            grid.add_row(*[Text(c) for c in row])
        return grid


class MerchantMeasures(_Panel):
    """GMV, orders, AOV, refund rate, payers, member share, pay-to-member, repurchase; with the
    change against the previous window."""

    DEFAULT_CSS = f"MerchantMeasures {{ {PANEL_CSS} }}"
    JUSTIFY = ("left", "right", "right")

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__("Measures", id=id)
        self.border_subtitle = "vs previous range"

    def show(self, detail: dict[str, Any]) -> None:
        rows = []
        ms = detail["measures"]
        for key, label in MEASURE_ROWS:
            m = ms[key]
            value = format_value(m["kind"], m["value"])
            if key.startswith("repurchase_"):
                rep = detail["repurchase"]
                n = key.split("_")[1].rstrip("d")
                cohort = rep[f"cohort_{n}"]
                ch = f"of {format_count(cohort)}" if cohort else "no cohort"
            else:
                ch = format_change(m["kind"], m["change"])
            rows.append((label, value, ch))
        self.set_rows(rows)


class EntryMix(_Panel):
    """GMV by entry (QR, face, Mini Program, in-app, Channels live), as shares with bars."""

    DEFAULT_CSS = f"EntryMix {{ {PANEL_CSS} }}"
    JUSTIFY = ("left", "left", "right", "right")

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__("Entry mix (GMV)", id=id)

    def show(self, detail: dict[str, Any]) -> None:
        entries = detail["entry_mix"]
        top = max((e["share"] or 0.0 for e in entries), default=0.0)
        rows = []
        for e in entries:
            share = e["share"]
            rows.append(
                (
                    ENTRY_LABELS.get(e["entry"], e["entry"]),
                    bar(share or 0.0, top, 12).ljust(12),
                    DASH if share is None else format_rate(share),
                    format_value("money", e["gmv"]),
                )
            )
        self.set_rows(rows)


class PayScorePanel(_Panel):
    """Pay Score orders of the range by state, deposits waived, and collection of completed orders."""

    DEFAULT_CSS = f"PayScorePanel {{ {PANEL_CSS} }}"

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__("Pay Score", id=id)

    def show(self, detail: dict[str, Any]) -> None:
        p = detail["pay_score"]
        states = " ".join(
            f"{s} {format_count(p[s])}"
            for s in ("done", "doing", "created", "revoked", "expired")
            if p[s]
        )
        rows = [
            ("Orders", format_count(p["orders"])),
            ("  by state", states or DASH),
            ("Deposits waived", format_value("money", p["deposit_waived"])),
            ("Completed", format_count(p["completed"])),
            ("Collected day 0", format_value("rate", p["collection_d0"])),
            ("Collected day 7", format_value("rate", p["collection_d7"])),
            ("Collected day 30", format_value("rate", p["collection_d30"])),
            ("Collected amount", format_value("rate", p["collection_rate"])),
            ("Unpaid 30d+ (bad debt)", format_count(p["overdue_30d"])),
        ]
        self.set_rows(rows)


class GroupsPanel(_Panel):
    """The merchant's WeCom customer groups: sizes against the 500 cap, active share, the largest."""

    DEFAULT_CSS = f"GroupsPanel {{ {PANEL_CSS} }}"
    JUSTIFY = ("left", "right", "left")

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__("Customer groups", id=id)

    def show(self, detail: dict[str, Any]) -> None:
        g = detail["groups"]
        cap = g["cap"]
        rows: list[tuple[str, ...]] = [
            ("Groups", format_count(g["groups"]), ""),
            ("Members", format_count(g["members"]), ""),
            (
                f"Size (cap {cap})",
                DASH if g["avg_size"] is None else f"avg {g['avg_size']:.0f}",
                "" if g["max_size"] is None else f"max {g['max_size']}, {g['at_cap']} at cap",
            ),
            ("Active share", format_value("rate", g["active_share"]), "had a message"),
            ("Joins / leaves", f"{format_count(g['joins'])} / {format_count(g['leaves'])}", ""),
        ]
        if g["groups"]:
            top = max(h["groups"] for h in g["histogram"])
            for h in g["histogram"]:
                rows.append(
                    (f"  {h['band']}", format_count(h["groups"]), bar(h["groups"], top, 10))
                )
        self.set_rows(rows)


class LivesPanel(_Panel):
    """The merchant's Channels lives in the range: viewers, peak, GMV; the newest few."""

    DEFAULT_CSS = f"LivesPanel {{ {PANEL_CSS} }}"
    JUSTIFY = ("left", "right", "right", "right")

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__("Channels lives", id=id)

    def show(self, detail: dict[str, Any], local: Any = None) -> None:
        lv = detail["lives"]
        rows: list[tuple[str, ...]] = [
            ("Lives", format_count(lv["lives"]), "", ""),
            ("Viewers", format_count(lv["viewers"]), "peak", format_count(lv["peak_viewers"] or 0)),
            ("Live GMV", format_value("money", lv["gmv"]), "orders", format_count(lv["orders"])),
        ]
        if lv["top"]:
            rows.append(("started", "viewers", "peak", "GMV"))
            for x in lv["top"][:5]:
                started = x["started_at"]
                when = (local(started) if local else started).strftime("%m-%d %H:%M")
                live_mark = " ●" if x["ended_at"] is None else ""
                rows.append(
                    (
                        when + live_mark,
                        format_count(x["viewers"]),
                        format_count(x["peak_viewers"]),
                        format_value("money", x["gmv"]),
                    )
                )
        self.set_rows(rows)


def make_trend_chart(id: str = "merchant-trend") -> Widget:  # noqa: A002
    """The GMV trend chart (textual-plotext is imported here, when the merchant view is built)."""
    from textual_plotext import PlotextPlot

    class GmvTrend(PlotextPlot):
        """GMV per bucket over the range (solid) against the previous range (dotted)."""

        DEFAULT_CSS = """
        GmvTrend { height: 14; border: round $panel-lighten-2; border-title-color: $text; }
        """

        def __init__(self) -> None:
            super().__init__(id=id)
            self.border_title = "GMV trend"
            self._shown: tuple[Any, ...] | None = None

        def show(self, detail: dict[str, Any]) -> None:
            trend = detail["trend"]
            cur = [float(v) for v in trend["current"]]
            prev = None if trend["previous"] is None else [float(v) for v in trend["previous"]]
            key = (tuple(cur), None if prev is None else tuple(prev), trend["bucket_s"])
            if key == self._shown:
                return
            self._shown = key
            step = trend["bucket_s"]
            unit, div = _unit(step)
            n = len(cur)
            xs = [-(n - i) * step / div for i in range(n)]
            plt = self.plt
            plt.clear_data()
            plt.clear_figure()
            plt.theme("clear")
            if prev is not None:
                plt.plot(xs, prev, marker="dot", label="previous")
            plt.plot(xs, cur, marker="braille", label="this range")
            plt.xlabel(f"{unit} before as-of")
            # round ticks (#11): money compact on the y axis, whole units on the x axis
            from ecotop.tui.widgets.charts import tick_label, y_ticks

            values = cur + (prev or [])
            ys = y_ticks(min(0.0, min(values, default=0.0)), max(values, default=1.0), whole=True)
            plt.ylim(ys[0], ys[-1])
            plt.yticks(ys, [f"¥{tick_label(y)}" for y in ys])
            if xs:
                lo = xs[0]
                whole = [float(round(lo * k / 4)) for k in range(4, -1, -1)]
                plt.xticks(whole, [f"{w:g}" for w in whole])
            self.border_subtitle = f"per {_bucket_label(step)}"
            self.refresh()

    return GmvTrend()


def _unit(step: int) -> tuple[str, int]:
    if step >= 86400:
        return "days", 86400
    if step >= 3600:
        return "hours", 3600
    return "minutes", 60


def _bucket_label(step: int) -> str:
    if step % 86400 == 0:
        return f"{step // 86400} day" + ("s" if step > 86400 else "")
    if step % 3600 == 0:
        return f"{step // 3600} hour" + ("s" if step > 3600 else "")
    return f"{step // 60} min"
