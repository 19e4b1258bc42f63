"""The period a dashboard page covers, as its URL says it: `period=today|7d|30d`, or `from` and
`to` (dates in the brand's time zone, `to` included; or exact ISO instants, as the links from a
figure to its mentions carry them)."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

CHOICES = {"today": "today", "7d": "7 days", "30d": "30 days", "custom": "custom"}
DEFAULT = "7d"
LONGEST = timedelta(days=400)


class PeriodError(ValueError):
    """A `from`/`to` the page cannot use; the message names the parameter."""


@dataclass(frozen=True, slots=True)
class Period:
    since: datetime
    until: datetime
    choice: str  # a key of CHOICES

    def params(self) -> dict[str, str]:
        """Exact instants, so a figure's link opens the same period whatever the time is."""
        return {"from": self.since.isoformat(), "to": self.until.isoformat()}


def period_of(params: Any, now: datetime, zone: tzinfo) -> Period:
    """The period of a request's query parameters; raises PeriodError naming what is wrong."""
    start, end = str(params.get("from", "")).strip(), str(params.get("to", "")).strip()
    choice = str(params.get("period", ""))
    if start or end:
        if not (start and end):
            raise PeriodError("give both `from` and `to` (YYYY-MM-DD), or pick a period")
        since = _moment("from", start, zone, end_of_day=False)
        until = _moment("to", end, zone, end_of_day=True)
        if since >= until:
            raise PeriodError(f"`from` {start} is not before `to` {end}")
        if until - since > LONGEST:
            raise PeriodError(
                f"a period is at most {LONGEST.days} days; `from` {start} is too early"
            )
        return Period(since, until, "custom")
    if choice == "today":
        midnight = datetime.combine(now.astimezone(zone).date(), time(), tzinfo=zone)
        return Period(midnight, now, "today")
    days = 30 if choice == "30d" else 7
    return Period(now - timedelta(days=days), now, "30d" if days == 30 else DEFAULT)


def _moment(name: str, text: str, zone: tzinfo, end_of_day: bool) -> datetime:
    try:
        day = date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        raise PeriodError(f"`{name}` {text[:40]!r} is not a date (YYYY-MM-DD)") from None
    if day is not None:
        midnight = datetime.combine(day, time(), tzinfo=zone)
        return midnight + timedelta(days=1) if end_of_day else midnight
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise PeriodError(f"`{name}` {text[:40]!r} is not a date (YYYY-MM-DD)") from None
    if moment.tzinfo is None:
        raise PeriodError(f"`{name}` {text[:40]!r} has no time zone offset")
    return moment
