"""The one registry of ecotop's keys: app bindings, the help screen and the command palette read it.

Keys follow DESIGN.md (htop/btop/k9s/lazygit conventions). `scope` says where a key works.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Key:
    key: str  # Textual key name(s), comma separated
    display: str  # how the help screen and footer show it
    action: str  # app action (without "app.") or a screen action
    description: str
    scope: str = "everywhere"
    show: bool = False  # shown in the footer
    short: str = ""  # the footer's word for it (default: description)

    @property
    def footer(self) -> str:
        return self.short or self.description


PILLAR_KEYS = [
    Key(str(n), str(n), f"pillar({n})", f"Pillar {n} view", "everywhere") for n in range(1, 8)
]

APP_KEYS: list[Key] = [
    Key("q", "q", "quit", "Quit", show=True),
    Key("question_mark", "?", "help", "Help: every key", show=True, short="Help"),
    *PILLAR_KEYS,
    Key("m", "m", "merchants", "Merchants", show=True),
    Key("colon", ":", "console", "SQL console", show=True, short="SQL"),
    Key("a", "a", "alerts", "Alerts", show=True),
    Key("t", "t", "cycle_range", "Time range: 15m, 1h, 24h, 7d, 30d", show=True, short="Range"),
    Key("T", "T", "cycle_range_back", "Time range back: 30d, 7d, 24h, 1h, 15m"),
    Key(
        "p",
        "p",
        "pause",
        "Pause / resume the screen (data keeps arriving)",
        show=True,
        short="Pause",
    ),
    Key("r", "r", "refresh_now", "Refresh now (resumes when paused)", show=True, short="Refresh"),
    Key(
        "b",
        "b",
        "cycle_baseline",
        "Baseline of the changes: previous window, same time yesterday, same time last week",
    ),
    Key("plus", "+", "faster", "Refresh more often"),
    Key("minus", "-", "slower", "Refresh less often"),
    Key("e", "e", "export", "Export what the screen shows"),
    Key("slash", "/", "filter", "Filter the table"),
]

SCREEN_KEYS: list[Key] = [
    Key("enter", "enter", "drill", "Drill down (open the merchant of the row)", "tables"),
    Key("escape", "esc", "back", "Back to the previous screen", "views"),
    Key("ctrl+p", "ctrl+p", "command_palette", "Command palette: every command by name"),
    Key("s,greater_than_sign", "s >", "sort(1)", "Sort by the next column", "merchants"),
    Key("less_than_sign", "<", "sort(-1)", "Sort by the previous column", "merchants"),
    Key("I", "I", "invert", "Invert the sort order", "merchants"),
]

ALL_KEYS: list[Key] = [*APP_KEYS, *SCREEN_KEYS]

#: The footer's global hints, most useful first (actions); tui/widgets/footer.py drops them from the
#: end until the line fits, after the keys of the screen itself. `?` lists every key anyway.
FOOTER_ORDER: list[str] = [
    "help",
    "quit",
    "merchants",
    "console",
    "cycle_range",
    "pause",
    "refresh_now",
    "alerts",
]
