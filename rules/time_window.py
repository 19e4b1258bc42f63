"""`time:` in a rule and business hours in the SLA: local hours and days, and time zones."""

import difflib
import re
import zoneinfo
from functools import cache
from typing import Annotated

from pydantic import BeforeValidator, Field, field_validator, model_validator

from rules.schema_base import Strict, one_or_many

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _parse_hours(value: object) -> object:
    if not isinstance(value, str | list):
        return value
    return [_hour_range(str(part)) for part in one_or_many(value)]  # type: ignore[union-attr]


def _hour_range(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", text)
    if not match:
        raise ValueError(f"{text!r} is not a time range; write it like 09:00-17:30")
    h1, m1, h2, m2 = map(int, match.groups())
    if h1 > 23 or m1 > 59 or h2 > 24 or m2 > 59 or (h2 == 24 and m2):
        raise ValueError(f"{text!r}: hours run 00:00 to 24:00")
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if start == end:
        raise ValueError(f"{text!r} is empty: start and end are the same")
    return start, end  # end < start wraps past midnight: 22:00-06:00


_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_ALIASES = {"weekdays": "mon-fri", "weekend": "sat-sun"}


def _parse_days(value: object) -> object:
    if not isinstance(value, str | list):
        return value
    days: set[int] = set()
    for part in one_or_many(value):  # type: ignore[union-attr]
        text = _DAY_ALIASES.get(str(part).strip().lower(), str(part).strip().lower())
        first, _, last = text.partition("-")
        start, end = _day(first), _day(last or first)
        days.update((start + i) % 7 for i in range((end - start) % 7 + 1))
    return sorted(days)


def _day(name: str) -> int:
    key = name.strip()
    for names in (DAYS, _DAY_NAMES):
        if key in names:
            return names.index(key)
    raise ValueError(
        f"{name!r} is not a day; write mon, tue, wed, thu, fri, sat, sun, a range like "
        "mon-fri, or weekdays / weekend"
    )


class TimeWindow(Strict):
    """When, in local time, the condition holds: `hours` and `days` both, when given."""

    hours: Annotated[list[tuple[int, int]], BeforeValidator(_parse_hours)] = Field(
        default_factory=list
    )
    days: Annotated[list[int], BeforeValidator(_parse_days)] = Field(default_factory=list)
    timezone: str | None = None  # an IANA name such as Europe/Istanbul; default: the file's

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str | None) -> str | None:
        return None if name is None else check_timezone(name)

    @model_validator(mode="after")
    def _says_something(self) -> "TimeWindow":
        if not self.hours and not self.days:
            raise ValueError("give hours (e.g. 09:00-17:00), days (e.g. mon-fri) or both")
        return self


@cache
def _zone_names() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones()))


def check_timezone(name: str) -> str:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        close = difflib.get_close_matches(name, _zone_names(), n=1, cutoff=0.6)
        hint = f" (did you mean '{close[0]}'?)" if close else " (write e.g. Europe/Istanbul or UTC)"
        raise ValueError(f"unknown time zone '{name}'{hint}") from None
    return name
