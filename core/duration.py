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
