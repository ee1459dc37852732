"""Time windows: the range a screen or command shows, its `as_of` end and the baseline window.

The baseline is what a change compares against: the previous equal window (`previous`, the default
of headless commands), the same window a day earlier (`day`) or a week earlier (`week`). `as_of` is
never later than the wall clock, whatever times the file holds (a live writer may record times ahead).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ecotop.store.errors import BadInput

RANGES: dict[str, timedelta] = {
    "15m": timedelta(minutes=15),
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
EXACT_USERS_UP_TO = timedelta(hours=24)
# Baselines by name: how far back the baseline window ends from the current window's end (None: the
# window's own length, i.e. the previous equal window).
BASELINES: dict[str, timedelta | None] = {
    "previous": None,
    "day": timedelta(days=1),
    "week": timedelta(days=7),
}
DEFAULT_BASELINE = "previous"


def parse_baseline(text: str) -> str:
    """Validate a baseline name (previous, day, week); raises BadInput with the allowed values."""
    key = text.strip().lower()
    if key not in BASELINES:
        raise BadInput(f"unknown baseline {text!r}; use one of {', '.join(BASELINES)}")
    return key


def next_baseline(key: str) -> str:
    """The baseline after `key` in the cycle previous -> day -> week -> previous."""
    keys = list(BASELINES)
    return keys[(keys.index(key) + 1) % len(keys)]


#: A typed range: a whole number of minutes, hours or days (`45m`, `3h`, `2d`), 1m to 30d.
_TYPED = re.compile(r"([0-9]{1,5})\s*([mhd])")
_UNIT = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}
SHORTEST_RANGE = timedelta(minutes=1)
LONGEST_RANGE = timedelta(days=30)


def fixed_range(text: str) -> str:
    """Validate one of the fixed range keys (15m, 1h, 24h, 7d, 30d): what the command-line `--range`
    and the settings file take (a typed range is the dashboard's `:range 3h`)."""
    key = text.strip().lower()
    if key not in RANGES:
        raise BadInput(f"unknown time range {text!r}; use one of {', '.join(RANGES)}")
    return key


def parse_range(text: str) -> str:
    """Validate a range: a fixed key (15m, 1h, 24h, 7d, 30d) or a typed one like `45m`, `3h`, `2d`
    (from 1m to 30d); returns its key (`03H` -> `3h`). Raises BadInput saying what is allowed."""
    key = text.strip().lower()
    if key in RANGES:
        return key
    m = _TYPED.fullmatch(key)
    if m is None:
        raise BadInput(
            f"unknown time range {text!r}; use one of {', '.join(RANGES)} "
            "or a number of minutes, hours or days (45m, 3h, 2d)"
        )
    n, unit = int(m.group(1)), m.group(2)
    if not SHORTEST_RANGE <= n * _UNIT[unit] <= LONGEST_RANGE:
        raise BadInput(f"time range {text.strip()!r} is out of bounds: from 1m to 30d")
    return f"{n}{unit}"


def range_length(key: str) -> timedelta:
    """How long the range `key` is (a fixed key or a typed one; raises BadInput if invalid)."""
    key = parse_range(key)
    if key in RANGES:
        return RANGES[key]
    return int(key[:-1]) * _UNIT[key[-1]]


def next_range(key: str, step: int = 1) -> str:
    """The fixed range after `key` in the cycle 15m -> 1h -> 24h -> 7d -> 30d -> 15m (`step=-1`:
    before it). From a typed range: the next longer fixed range (or the previous shorter one)."""
    keys = list(RANGES)
    if key in RANGES:
        return keys[(keys.index(key) + step) % len(keys)]
    length = range_length(key)
    if step > 0:
        return next((k for k in keys if RANGES[k] > length), keys[0])
    return next((k for k in reversed(keys) if RANGES[k] < length), keys[-1])


def minute_ceil(ts: datetime) -> datetime:
    """The minute boundary after `ts` (the end of the minute that contains it)."""
    return ts.replace(second=0, microsecond=0) + timedelta(minutes=1)


@dataclass(frozen=True)
class Window:
    """The current window [start, end) of a range and its baseline window [prev_start, prev_end).

    `baseline` names the baseline: previous (the equal window just before), day or week (the same
    window one day or one week earlier).
    """

    range: str
    start: datetime
    end: datetime
    prev_start: datetime
    prev_end: datetime
    baseline: str = DEFAULT_BASELINE

    @property
    def length(self) -> timedelta:
        return self.end - self.start

    @property
    def exact_users(self) -> bool:
        """Distinct-user measures are exact up to 24h and approximate (sampled) beyond."""
        return self.length <= EXACT_USERS_UP_TO

    def params(self) -> dict[str, Any]:
        """The bound parameters every windowed query takes: $s, $e, $ps, $pe."""
        return {"s": self.start, "e": self.end, "ps": self.prev_start, "pe": self.prev_end}

    def shifted(self, delta: timedelta) -> Window:
        """The same window moved by `delta` (e.g. -7 days for "the same window a week earlier")."""
        return Window(
            self.range,
            self.start + delta,
            self.end + delta,
            self.prev_start + delta,
            self.prev_end + delta,
            self.baseline,
        )


def window(range_key: str, as_of: datetime, baseline: str = DEFAULT_BASELINE) -> Window:
    """The window of `range_key` ending at the minute-aligned `as_of`, with its `baseline` window."""
    length = range_length(range_key)
    back = BASELINES[parse_baseline(baseline)] or length
    return Window(
        parse_range(range_key),
        as_of - length,
        as_of,
        as_of - length - back,
        as_of - back,
        parse_baseline(baseline),
    )


def clamp_as_of(as_of: datetime | None, now: datetime | None = None) -> datetime | None:
    """`as_of` no later than the minute after the wall clock (a file may hold times ahead of it)."""
    if as_of is None:
        return None
    return min(as_of, live_as_of(now))


def newest_as_of(cur: Any) -> datetime | None:
    """`as_of` of a static file: the minute after its newest event, never later than the minute
    after the wall clock (None for an empty file)."""
    row = cur.execute(
        "SELECT max(minute) FROM rollup_minute WHERE minute >= (SELECT max(hour) FROM rollup_hour)"
    ).fetchall()
    row = row[0] if row else None
    if row is None or row[0] is None:
        return None
    return clamp_as_of(row[0] + timedelta(minutes=1))


def live_as_of(now: datetime | None = None) -> datetime:
    """`as_of` of live data: the minute after the wall clock (the current minute is included)."""
    return minute_ceil(now or datetime.now(UTC))
