"""The period a console page covers, from its query: `period=today|7d|30d`, or `from` and `to`
(dates, YYYY-MM-DD, in the brand's time zone; both days included) for a custom span.

`today` starts at the brand's midnight; `7d` and `30d` are the 7 × 24 (30 × 24) hours to now,
the span of `main.py rules backtest --since 7d` and `main.py report --since 7d`.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from starlette.datastructures import QueryParams

PERIODS = {"today": "Today", "7d": "7 days", "30d": "30 days"}
DEFAULT_PERIOD = "7d"
LONGEST = timedelta(days=31)  # the longest custom span: a replay over it stays bounded


@dataclass(frozen=True, slots=True)
class Period:
    key: str  # a key of PERIODS, or "custom"
    since: datetime
    until: datetime
    first_day: str = ""  # the span's first and last dates (brand's zone), shown in the form
    last_day: str = ""

    @property
    def label(self) -> str:
        return PERIODS.get(self.key) or f"{self.first_day} to {self.last_day}"

    def query(self) -> dict[str, str]:
        """The period as query parameters, for forms and links that keep it."""
        if self.key == "custom":
            return {"from": self.first_day, "to": self.last_day}
        return {"period": self.key}


def period_of(params: QueryParams, now: datetime, zone: tzinfo) -> Period | str:
    """The period a page's query asks for, or what is wrong with it (to show on the page)."""
    first, last = params.get("from", "").strip(), params.get("to", "").strip()
    if first or last:
        return _custom(first, last, now, zone)
    key = params.get("period", DEFAULT_PERIOD)
    if key not in PERIODS:
        return f"period {key[:20]!r}: use one of {', '.join(PERIODS)}, or from and to dates"
    today = now.astimezone(zone).date()
    if key == "today":
        midnight = datetime.combine(today, time(), zone)
        return Period(key, midnight, now, today.isoformat(), today.isoformat())
    since = now - timedelta(days=int(key[:-1]))
    return Period(key, since, now, since.astimezone(zone).date().isoformat(), today.isoformat())


def _custom(first: str, last: str, now: datetime, zone: tzinfo) -> Period | str:
    try:
        start, end = date.fromisoformat(first), date.fromisoformat(last or first)
    except ValueError:
        return f"from {first[:20]!r} and to {last[:20]!r}: dates are written YYYY-MM-DD"
    if end < start:
        return f"to {end} is before from {start}"
    since = datetime.combine(start, time(), zone)
    if since > now:
        return f"from {start} is in the future"
    until = min(datetime.combine(end + timedelta(days=1), time(), zone), now)
    if until - since > LONGEST:
        return f"from {start} to {end} is longer than {LONGEST.days} days; pick a shorter span"
    return Period("custom", since, until, start.isoformat(), end.isoformat())
