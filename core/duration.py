"""Durations as operators write them: `30s`, `5m`, `1h`, `7d`, or combined `1h30m`; always with
a unit."""

import re
from datetime import timedelta
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer

_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str | int | float | timedelta) -> timedelta:
    """`"1h30m"` → 1:30:00. A number needs its unit (is `10` seconds or minutes?); only 0 may
    go without. Raises ValueError saying the accepted forms."""
    if isinstance(text, timedelta):
        return text
    if isinstance(text, bool):
        raise ValueError("expected a duration such as 30s, 5m, 1h or 7d")
    compact = str(text).strip().lower().replace(" ", "")
    if compact and compact.replace(".", "", 1).isdigit():
        if float(compact) == 0:
            return timedelta(0)
        raise ValueError(
            f"{text!r} has no unit; write a duration with its unit: {compact}s, {compact}m, "
            f"{compact}h or {compact}d"
        )
    parts = _PART.findall(compact)
    if not compact or "".join(n + u for n, u in parts) != compact:
        raise ValueError(f"{text!r} is not a duration; write it like 30s, 5m, 1h, 7d or 1h30m")
    return timedelta(seconds=sum(float(n) * _UNIT_SECONDS[u] for n, u in parts))


def format_duration(value: timedelta) -> str:
    """The shortest exact spelling: 5400 s → `1h30m`."""
    seconds = round(value.total_seconds())
    if seconds == 0:
        return "0s"
    out = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            out.append(f"{count}{unit}")
    return "".join(out)


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
]


# The units a person reads, largest first; a duration shows its two largest that are not zero.
_HUMAN_UNITS = (("d", 86400), ("h", 3600), ("min", 60), ("s", 1))


def human_duration(value: timedelta) -> str:
    """A duration as staff read it: `3 s`, `4 min 10 s`, `1 h 30 min`, `2 d 3 h`; `-3 s` below 0.

    Whole seconds, the two largest units that are not zero (cut, never rounded up, so 59.9 min
    reads `59 min 54 s`, not `60 min`). The one formatter for every duration shown to people:
    config spellings (`1h30m`) are `format_duration`'s.
    """
    seconds = int(value.total_seconds())  # towards zero: -0.4 s is "0 s", never "-1 s"
    sign, seconds = ("-", -seconds) if seconds < 0 else ("", seconds)
    parts = []
    for unit, size in _HUMAN_UNITS:
        count, seconds = divmod(seconds, size)
        if count or parts:
            parts.append(f"{count} {unit}")
    shown = [part for part in parts[:2] if not part.startswith("0 ")] or ["0 s"]
    return sign + " ".join(shown)


def time_left(remaining: timedelta) -> str:
    """`12 min left` before a deadline, `3 s overdue` after it (never a negative duration)."""
    if remaining <= timedelta(0):
        return f"{human_duration(-remaining)} overdue"
    return f"{human_duration(remaining)} left"
