"""The one-hour promise: first-response targets, business hours, and the SLA watcher.

Each alert that gets a message of its own is given a first-response deadline when it is sent:
the target of its route and urgency band, counted in business hours from when the customer
wrote (or from when we saw it, if that is earlier than the clock says they wrote). The watcher,
a job of the running node, then
- warns in the alert's thread at `warn_at` of the target if nobody has answered,
- posts a holding reply before the deadline when a rule allows it (an outbox `reply` action),
- escalates to the escalation route when the deadline passes and nobody claimed the alert,
  and to a rule's own `escalate` route when its `after` passes unclaimed,
- brings snoozed alerts back when the snooze ends.
Each pass says when the next is due (`next_check`): the node sleeps until then, or until an
alert changes, and looks at most every `check_every`.
"""

import asyncio
import logging
import re
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from core.clock import Clock
from core.duration import Duration, human_duration, time_left
from core.models import AlertRow
from core.platforms import author_values
from core.store import PlannedAction, Store, WatchedAlert
from responders.alert_format import clock_time
from responders.flood_budget import FloodBudget
from rules.templates import render_template
from rules.time_window import TimeWindow, check_timezone
from service.alert_messages import AlertMessages

log = logging.getLogger(__name__)

HOLDING_RULE = "sla-holding"  # the outbox rule name of holding replies: one per mention
WATCHER = "SLA watcher"


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


class SlaWatcher:
    def __init__(
        self,
        store: Store,
        messages: AlertMessages,
        budget: FloodBudget,
        sla: SlaClock,
        clock: Clock,
        zone: tzinfo,
    ):
        self.store = store
        self.messages = messages
        self.budget = budget
        self.sla = sla
        self.clock = clock
        self.zone = zone
        self.next_check: datetime | None = None  # None: no watched alert has a moment ahead
        self._no_room: set[str] = set()  # chats whose minute budget held a note back

    async def check(self) -> int:
        """One pass over the open alerts; how many notes, replies and escalations it made."""
        now = self.clock.now()
        self._no_room.clear()
        watched = await asyncio.to_thread(self.store.watched_alerts, now)
        # Other nodes spend the same chats' minute budgets: read what they sent before judging
        # whether a note or an escalation fits, or `take` would refuse one already decided on.
        await self.budget.refresh({item.alert.chat_id for item in watched})
        done = 0
        for item in watched:
            done += await self._wake(item, now)
            done += await self._hold(item, now)
            done += await self._escalate(item, now)
            done += await self._warn(item, now)
        self.next_check = self._next_moment(watched, now)
        return done

    def _next_moment(self, watched: list[WatchedAlert], now: datetime) -> datetime | None:
        """The soonest moment after `now` when one of `watched` may need a note, a reply or an
        escalation (a moment that turns out to need nothing costs one pass), or when a chat's
        budget has room again for a note it held back."""
        holding = self.sla.config.holding_reply
        moments = [self.budget.next_free(chat) for chat in self._no_room]
        ahead: list[datetime | None] = []
        for item in watched:
            alert = item.alert
            ahead.append(alert.snoozed_until)
            if alert.warned_at is None:
                ahead.append(alert.warn_at)
            if alert.due_at is not None and alert.acknowledged_at is None:
                ahead.append(alert.due_at)
            if alert.due_at is not None and alert.held_at is None and alert.rule in holding.rules:
                ahead.append(alert.due_at - holding.before)
            ahead += [
                alert.created_at + timedelta(seconds=int(step.get("after_seconds", 0)))
                for step in item.payload.get("escalate", [])
                if step.get("route") not in alert.escalated_to
            ]
        moments += [moment for moment in ahead if moment is not None and moment > now]
        return min(moments, default=None)

    async def _wake(self, item: WatchedAlert, now: datetime) -> int:
        alert = item.alert
        if alert.snoozed_until is None or alert.snoozed_until > now:
            return 0
        await asyncio.to_thread(self.store.update_alert, alert.id or 0, snoozed_until=None)
        alert.snoozed_until = None
        await self.messages.refresh(alert.id or 0)
        await self.messages.notify(alert, "⏰ Snooze over: this alert is back in the queue.")
        return 1

    async def _warn(self, item: WatchedAlert, now: datetime) -> int:
        alert = item.alert
        if (
            alert.warn_at is None
            or alert.due_at is None
            or alert.warned_at is not None
            or alert.answered_at is not None
            or alert.warn_at > now
            or alert.due_at <= now
            or _snoozed(alert, now)
        ):
            return 0
        if self.budget.left(alert.chat_id) < 1:
            self._no_room.add(alert.chat_id)
            return 0
        left = time_left(alert.due_at - now)
        who = f" {alert.acknowledged_by}, " if alert.acknowledged_by else " "
        due = clock_time(alert.due_at, self.zone)
        text = f"⏳{who}{left} to answer this one (due {due})."
        await asyncio.to_thread(self.store.update_alert, alert.id or 0, warned_at=now)
        await self.messages.notify(alert, text)
        return 1

    async def _hold(self, item: WatchedAlert, now: datetime) -> int:
        alert, mention = item.alert, item.mention
        holding = self.sla.config.holding_reply
        if (
            mention is None
            or alert.kind != "mention"
            or alert.due_at is None
            or alert.held_at is not None
            or alert.answered_at is not None
            or alert.rule not in holding.rules
            or alert.due_at - holding.before > now
        ):
            return 0
        await asyncio.to_thread(self.store.update_alert, alert.id or 0, held_at=now)
        if await asyncio.to_thread(self.store.reply_queued, mention.id or 0, HOLDING_RULE):
            return 0  # one automatic answer per customer: the rules already sent one
        text = render_template(
            holding.text,
            {
                **author_values(mention.platform, mention.author_handle, mention.author_id),
                "rule": alert.rule,
            },
        )
        action = PlannedAction(
            kind="reply",
            rule=HOLDING_RULE,
            payload={"template": holding.text, "text": text, "dry_run": False, "holding": True},
        )
        queued = await asyncio.to_thread(self.store.queue_action, mention.id or 0, action, now)
        return 1 if queued else 0

    async def _escalate(self, item: WatchedAlert, now: datetime) -> int:
        alert = item.alert
        if alert.acknowledged_at is not None or alert.answered_at is not None:
            return 0
        if _snoozed(alert, now):
            return 0
        steps = []
        for step in item.payload.get("escalate", []):
            after = timedelta(seconds=int(step.get("after_seconds", 0)))
            reason = f"Unclaimed after {human_duration(after)} (rule {step.get('rule', '')})"
            if step.get("route"):
                steps.append((alert.created_at + after, str(step["route"]), reason))
        if alert.due_at is not None:
            # The target as configured: the deadline counts from when the customer wrote, which
            # can be before the alert was sent, so `due_at - created_at` may even be negative.
            urgency = (item.mention.urgency or 0) if item.mention is not None else 0
            target = human_duration(self.sla.config.target(alert.route, urgency))
            late = time_left(alert.due_at - now)
            steps.append(
                (
                    alert.due_at,
                    self.sla.config.escalate_to,
                    f"Unclaimed past its first-response target of {target} ({late})",
                )
            )
        done = 0
        for at, route, reason in steps:
            if at > now or route in alert.escalated_to:
                continue
            if self.budget.left(alert.chat_id) < 1:
                self._no_room.add(alert.chat_id)
                break
            alert.escalated_to = [*alert.escalated_to, route]
            await asyncio.to_thread(
                self.store.update_alert,
                alert.id or 0,
                escalated_at=alert.escalated_at or now,
                escalated_by=alert.escalated_by or WATCHER,
                escalated_to=alert.escalated_to,
            )
            await self.messages.escalate(alert.id or 0, reason, route)
            await self.messages.refresh(alert.id or 0)
            done += 1
        return done


def _snoozed(alert: AlertRow, now: datetime) -> bool:
    return alert.snoozed_until is not None and alert.snoozed_until > now
