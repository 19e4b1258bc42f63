"""The one-hour promise as configured: first-response targets per route and urgency, business
hours, and the deadlines they give a new alert (`sla:` in config.yaml, docs/agents.md).

Apart from the watcher (service/sla.py) so that reading a config, as `rules test` and `rules
check` do, imports no database layer.
"""

import re
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from core.duration import Duration
from rules.time_window import TimeWindow, check_timezone


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True, slots=True)
class BusinessHours:
    """When the SLA clock runs: always, or on some days and hours in a time zone."""

    days: frozenset[int] = frozenset()  # 0 = Monday; empty: every day
    hours: tuple[tuple[int, int], ...] = ()  # minutes after midnight; empty: all day
    zone: tzinfo = UTC
    always: bool = True

    @classmethod
    def parse(cls, text: str, default_zone: str = "UTC") -> "BusinessHours":
        """`24/7`, or `mon-fri 09:00-18:00 [Europe/Istanbul]` (several ranges: `,` between)."""
        compact = " ".join(text.split())
        if compact.lower() in ("24/7", "always", ""):
            return cls()
        parts = compact.split(" ")
        zone_name = default_zone
        if "/" in parts[-1] or parts[-1].upper() == "UTC":
            zone_name = check_timezone(parts.pop())
        hours = [h for p in parts if re.match(r"\d", p) for h in p.split(",") if h]
        days = [p for p in parts if not re.match(r"\d", p)]
        try:
            window = TimeWindow.model_validate(
                {"days": ",".join(days).split(",") if days else [], "hours": hours}
            )
        except ValidationError as exc:
            problems = "; ".join(
                error["msg"].removeprefix("Value error, ") for error in exc.errors()
            )
            raise ValueError(
                f"{text!r}: {problems}; write 24/7 or e.g. 'mon-fri 09:00-18:00 Europe/Istanbul'"
            ) from None
        return cls(
            days=frozenset(window.days),
            hours=tuple(window.hours),
            zone=zoneinfo.ZoneInfo(zone_name),
            always=False,
        )

    def spans(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Open periods (UTC) that end after `start`, in order, from `start` on."""
        if self.always:
            yield start, datetime.max.replace(tzinfo=UTC)
            return
        day = start.astimezone(self.zone).date() - timedelta(days=1)  # a range may wrap midnight
        for _ in range(800):
            for begin, end in self._day_spans(day):
                if end > start:
                    yield max(begin, start), end
            day += timedelta(days=1)
        raise ValueError("business hours never open")

    def _day_spans(self, day: date) -> list[tuple[datetime, datetime]]:
        if self.days and day.weekday() not in self.days:
            return []
        midnight = datetime(day.year, day.month, day.day, tzinfo=self.zone)
        ranges = self.hours or ((0, 24 * 60),)
        out = []
        for first, last in sorted(ranges):
            # Wall-clock arithmetic in the zone, then UTC: a DST change moves the hours with it.
            begin = (midnight + timedelta(minutes=first)).astimezone(UTC)
            length = last - first if last > first else last + 24 * 60 - first
            end = (midnight + timedelta(minutes=first + length)).astimezone(UTC)
            out.append((begin, end))
        return out

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The moment `duration` of business time after `start`."""
        left = duration
        for begin, end in self.spans(start):
            if end - begin >= left:
                return begin + left
            left -= end - begin
        raise AssertionError("spans() never ends")

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Business time between `start` and `end`."""
        total = timedelta(0)
        if end <= start:
            return total
        for begin, finish in self.spans(start):
            if begin >= end:
                break
            total += min(finish, end) - begin
        return total


class Targets(_Strict):
    """A route's own first-response targets; unset ones are the defaults."""

    first_response: Duration | None = None
    urgent_first_response: Duration | None = None
    urgent_at: int | None = Field(default=None, ge=0, le=100)


class HoldingReply(_Strict):
    """A public "we're on it" posted before the deadline when nobody has answered yet."""

    rules: list[str] = Field(default_factory=list)  # alerts of these rules may get one
    before: Duration = timedelta(minutes=10)  # this long before the deadline
    text: str = Field(
        default="Hi {author}, thanks for reaching out. We're looking into this and will get "
        "back to you shortly.",
        min_length=1,
        max_length=1000,
    )


class SlaConfig(_Strict):
    """`sla:` in config.yaml; see docs/agents.md."""

    first_response: Duration = timedelta(minutes=60)
    urgent_first_response: Duration = timedelta(minutes=15)
    urgent_at: int = Field(default=70, ge=0, le=100)  # urgency of the top band
    business_hours: str = "24/7"
    warn_at: float = Field(default=0.5, gt=0, lt=1)  # share of the target
    escalate_to: str = "escalation"
    check_every: Duration = timedelta(seconds=1)
    routes: dict[str, Targets] = Field(default_factory=dict)
    holding_reply: HoldingReply = Field(default_factory=HoldingReply)

    @field_validator("business_hours")
    @classmethod
    def _parses(cls, value: str) -> str:
        BusinessHours.parse(value)
        return value

    @field_validator("first_response", "urgent_first_response", "check_every")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be longer than 0s")
        return value

    def target(self, route: str, urgency: int) -> timedelta:
        own = self.routes.get(route, Targets())
        urgent_at = own.urgent_at if own.urgent_at is not None else self.urgent_at
        if urgency >= urgent_at:
            return own.urgent_first_response or self.urgent_first_response
        return own.first_response or self.first_response


class SlaClock:
    """Deadlines for new alerts, and business time for reports."""

    def __init__(self, config: SlaConfig, timezone: str = "UTC"):
        self.config = config
        self.hours = BusinessHours.parse(config.business_hours, timezone)

    def deadlines(self, route: str, urgency: int, start: datetime) -> tuple[datetime, datetime]:
        """(first response due, warning time) for an alert on `route` that started at `start`."""
        target = self.config.target(route, urgency)
        return self.hours.add(start, target), self.hours.add(start, target * self.config.warn_at)
