"""The SLA watcher: the one-hour promise (service/sla_policy.py) kept while the node runs.

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
from datetime import datetime, timedelta, tzinfo

from core.clock import Clock
from core.duration import human_duration, time_left
from core.models import AlertRow
from core.platforms import author_values
from core.store import PlannedAction, Store, WatchedAlert
from responders.alert_format import clock_time
from responders.flood_budget import FloodBudget
from rules.templates import render_template
from service.alert_messages import AlertMessages
from service.sla_policy import SlaClock

log = logging.getLogger(__name__)

HOLDING_RULE = "sla-holding"  # the outbox rule name of holding replies: one per mention
WATCHER = "SLA watcher"


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
