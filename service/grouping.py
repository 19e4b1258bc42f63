"""Alert noise control: which queued alerts become Telegram messages, and which are counted.

Every alert action in the outbox ends as exactly one `alert` row, so nothing is lost:
- its own message (`sent`), unless
- a silence (`/mute`) covers its rule: `muted`, counted in the next message's "suppressed" line;
- an open spike alert on its route covers its rule (inhibition): `inhibited`, counted there;
- the same author set off the same rule a short while ago (re-alert back-off, doubling each
  time): `repeat`, counted in that alert;
- it is only a storm that folds (`grouped` into one alert with a count and the newest mentions,
  edited in place, each one a tap away through Show each):
  - many mentions say the same thing: more than `same_after` within `same_window` in one
    thread or conversation, or with near-identical text (core/alert_keys.saying);
  - its rule's rate on the route passes `group_after` alerts within `group_window` (by default
    more than the chat could carry: brands that want Alertmanager-style grouping lower it);
  - the chat's minute budget has no room left for a message of its own (SINGLE_NEEDS).

Every other mention is a customer of its own and gets its own message. A storm is judged on
whole batches taken from the outbox, so thousands of mentions cost a handful of messages, never
a queue of sends waiting for Telegram's limits.
"""

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.alert_keys import (
    any_rule_group_key,
    author_of,
    content_group_key,
    group_key,
    realert_key,
    saying,
)
from core.clock import Clock
from core.states import AlertKind, Delivery, OutboxKind
from core.store import OutboxItem, Store
from responders.base import ResponderError, Settled
from rules.windows import WindowAlert
from service.alert_messages import AlertMessages
from service.alerts_config import AlertsConfig
from service.budget_shares import EDIT_NEEDS, GROUP_NEEDS, SINGLE_NEEDS, singles_per_minute
from service.grouping_state import BatchState, Known, Windows, load_state
from service.show_each import ShowEach

log = logging.getLogger(__name__)


Deadlines = Callable[[str, int, datetime], tuple[datetime | None, datetime | None]]


@dataclass(slots=True)
class _Stop:
    """Why a batch stopped: delivery must wait until `at`."""

    at: datetime
    problem: str = ""  # "" for a planned wait (the chat's minute budget)
    waiting: bool = False  # the action itself was not attempted and waits too


class AlertResponder:
    """Performs `alert` actions: through the noise rules into Telegram, paced per chat."""

    kind = OutboxKind.ALERT
    reads_raw = False  # an alert shows the mention's own fields, never the platform payload

    def __init__(
        self,
        store: Store,
        messages: AlertMessages,
        config: AlertsConfig,
        clock: Clock,
        deadlines: Deadlines,
        batch_size: int = 500,
    ):
        self.store = store
        self.messages = messages
        self.telegram = messages.telegram
        self.budget = messages.telegram.budget
        self.config = config
        self.clock = clock
        self.deadlines = deadlines
        self.batch_size = batch_size
        self._lock = asyncio.Lock()  # batches and window alerts decide on the same state
        self.show_each = ShowEach(store, messages, clock, deadlines)
        self._singles_per_minute = singles_per_minute(config.max_per_minute)
        self._windows = Windows(
            config.group_window, config.same_window, config.realert_max, config.inhibit_for
        )

    async def perform(self, items: Sequence[OutboxItem]) -> Settled:
        """Decide and deliver one batch, in order, stopping at the first action that must wait.

        Group messages are sent after the whole batch is counted, so they go out showing
        their full count and samples instead of "1 mention" edited a moment later.
        """
        async with self._lock:
            await self.telegram.refresh_budget()  # other nodes may have sent since
            now = self.clock.now()
            state = await asyncio.to_thread(load_state, self.store, items, now, self._windows)
            handled = 0
            stop: _Stop | None = None
            rest: tuple[int, ...] = ()
            for index, item in enumerate(items):
                route = self.telegram.config.route(item.target)
                if route is None:
                    error = f"no Telegram chat configured for route {item.target!r}"
                    await asyncio.to_thread(self.store.mark_failed, item.id, error, None)
                    log.error("alert %s for mention %s: %s", item.id, item.mention_id, error)
                    continue
                stop = await self._one(item, str(route.chat_id), state, now)
                if stop is not None:
                    later = items[index:] if stop.waiting else items[index + 1 :]
                    rest = tuple(i.id for i in later)
                    break
                handled += 1
            await asyncio.to_thread(self.store.count_in, state.members, state.counted)
            for item, alert_id in state.pending:
                if stop is not None and stop.problem:
                    # The group row and what it counts stay; its message goes out on the retry.
                    await asyncio.to_thread(self.store.mark_failed, item.id, stop.problem, stop.at)
                    continue
                failed = await self._deliver(item, alert_id, keep_unsent=True)
                if isinstance(failed, _Stop):
                    stop = failed
        if stop is None:
            return Settled(handled)
        return Settled(handled, stop.at, rest, stop.problem)

    async def flush(self) -> None:
        """Update the messages whose counts went up, oldest edit first, within the budget;
        then post what agents asked to see one by one (Show each), paced."""
        now = self.clock.now()
        due = await asyncio.to_thread(self.store.dirty_messages, now - self.config.edit_every)
        await self.telegram.refresh_budget()
        for alert_id, chat in due:
            if self.budget.left(chat) < EDIT_NEEDS:
                continue
            await self.messages.refresh(alert_id)
        await self.show_each.post_due()

    async def _one(
        self, item: OutboxItem, chat: str, state: BatchState, now: datetime
    ) -> _Stop | None:
        """Deliver or count one alert; why the batch must stop when delivery must wait."""
        unsent = state.unsent.get(item.id)
        if unsent is not None:
            # Decided before (a group whose message failed, or a crash mid-send): send it now.
            alert_id, kind = unsent
            if kind == AlertKind.GROUP:
                state.pending.append((item, alert_id))
                return None
            sent = await self._deliver(item, alert_id, keep_unsent=False)
            return sent if isinstance(sent, _Stop) else None
        rule, route = item.rule, item.target
        key = realert_key(rule, item.mention)
        if rule in state.silenced or "*" in state.silenced:
            state.suppressed[route] += 1
            self._member(state, item, chat, Delivery.MUTED, None, now)
            return None
        for inhibitor_route, rules, window in state.inhibitors:
            if inhibitor_route == route and ("*" in rules or rule in rules):
                state.suppressed[route] += 1
                self._member(state, item, chat, Delivery.INHIBITED, window, now)
                return None
        previous = state.by_key.get(key) if author_of(item.mention) else None
        if previous is not None and now - previous.created_at < self._backoff(previous.level):
            self._member(state, item, chat, Delivery.REPEAT, previous, now)
            return None
        said = saying(item.mention)
        same = content_group_key(route, said) if said else ""
        burst = group_key(route, rule)
        for open_group in (same, burst):
            group = state.groups.get(open_group) if open_group else None
            if group is not None:
                self._member(state, item, chat, Delivery.GROUPED, group, now)
                return None
        left = self.budget.left(chat)
        folds_same = bool(same) and state.said[same] >= self.config.same_after
        folds_rule = state.singles[burst] >= self.config.group_after
        # The route's rate: its alerts of the last minute before this batch, and this batch's,
        # against what the chat can carry. A batch that would pass it is a storm: all of it
        # folds (the same for each of its mentions, not first come first served).
        storm = state.lately[route] + state.arriving[route] > self._singles_per_minute
        if not (folds_same or folds_rule or storm) and left >= SINGLE_NEEDS:
            alert_id = await self._open(item, chat, AlertKind.MENTION, burst, key, state, now)
            sent = await self._deliver(item, alert_id, keep_unsent=False)
            if isinstance(sent, int):
                state.singles[burst] += 1
                if same:
                    state.said[same] += 1
                known = Known(alert_id, chat, sent, now, now)
                known.level = previous.level + 1 if previous is not None else 0
                state.by_key[key] = known
                return None
            return sent
        # A storm: one message stands for many, each of them a tap away (Show each).
        if folds_same:
            burst = same
        elif not folds_rule:
            # A storm, or no room in the chat for this one's own message: the route's one group.
            burst = any_rule_group_key(route)
            if burst in state.groups:
                self._member(state, item, chat, Delivery.GROUPED, state.groups[burst], now)
                return None
        if left < GROUP_NEEDS:
            # Not even one message may go now: wait in the outbox, in order, for the budget.
            return _Stop(self.budget.next_free(chat), waiting=True)
        alert_id = await self._open(item, chat, AlertKind.GROUP, burst, "", state, now)
        state.groups[burst] = Known(alert_id, chat, 0, now, now)
        state.pending.append((item, alert_id))
        return None

    def _backoff(self, level: int) -> timedelta:
        return min(self.config.realert * 2**level, self.config.realert_max)

    def _member(
        self,
        state: BatchState,
        item: OutboxItem,
        chat: str,
        delivery: Delivery,
        into: Known | None,
        now: datetime,
    ) -> None:
        state.members.append(
            {
                "outbox_id": item.id,
                "mention_id": item.mention_id,
                "chat_id": chat,
                "message_id": into.message_id if into else 0,
                "state": "open",
                "created_at": now,
                "kind": AlertKind.MENTION,
                "delivery": delivery,
                "group_id": into.id if into else None,
                "route": item.target,
                "rule": item.rule,
                "group_key": group_key(item.target, item.rule),
                "key": "",
                "inhibits": [],
                "escalated_to": [],
                "summary": "",
                "count": 1,
                "suppressed": 0,
                "last_at": now,
            }
        )
        if into is not None:
            state.count(into, now)

    async def _open(
        self,
        item: OutboxItem,
        chat: str,
        kind: str,
        group_key: str,
        key: str,
        state: BatchState,
        now: datetime,
    ) -> int:
        """Write the alert that will own a message, with its SLA deadlines; its id."""
        start = min(item.mention.created_at, now)
        due, warn = self.deadlines(item.target, item.urgency or 0, start)
        values = {
            "outbox_id": item.id,
            "mention_id": item.mention_id,
            "chat_id": chat,
            "message_id": 0,
            "created_at": now,
            "kind": kind,
            "route": item.target,
            "rule": item.rule,
            "group_key": group_key,
            "key": key,
            "suppressed": state.suppressed[item.target],
            "last_at": now,
            "due_at": due,
            "warn_at": warn,
        }
        state.suppressed[item.target] = 0
        row = await asyncio.to_thread(self.store.open_alert_message, values)
        return row.id or 0

    async def _deliver(
        self, item: OutboxItem, alert_id: int, keep_unsent: bool
    ) -> int | _Stop | None:
        """Send alert `alert_id`'s message: its message id, why to stop, or None (failed).

        A group that failed stays (`keep_unsent`): the mentions counted in it point at it.
        """
        shown = await self.messages.view(alert_id, bool(item.payload.get("maybe_repeat")))
        assert shown is not None  # written before sending
        try:
            _chat, message_id = await self.telegram.send(
                item.target, shown.text, shown.markup, item.attempts
            )
        except ResponderError as exc:
            if not keep_unsent:
                await asyncio.to_thread(self.store.drop_unsent_alert, alert_id)
            await asyncio.to_thread(self.store.mark_failed, item.id, str(exc), exc.retry_at)
            if exc.retry_at is None:
                log.error("alert for mention %s failed for good: %s", item.mention_id, exc)
                return None
            return _Stop(exc.retry_at, str(exc))
        await asyncio.to_thread(
            self.store.alert_message_sent, alert_id, message_id, self.clock.now()
        )
        return message_id

    # --- window rules (spikes) --------------------------------------------------------------

    async def raise_windows(
        self, fired: Sequence[WindowAlert], inhibits: dict[str, list[str]]
    ) -> int:
        """Send each window alert once per episode; a spike then holds back its rules' pings.

        `inhibits` maps a window rule to the mention rules it silences while open (["*"]: all
        on its route); rules not in it (flatline, frequency) silence nothing.
        """
        sent = 0
        async with self._lock:
            if fired:
                await self.telegram.refresh_budget()
            for window in fired:
                if await asyncio.to_thread(self.store.window_seen, window.key):
                    continue
                route = self.telegram.config.route(window.route)
                if route is None:
                    log.error("window rule %s: no chat for route %r", window.rule, window.route)
                    continue
                chat = str(route.chat_id)
                if self.budget.left(chat) < GROUP_NEEDS:
                    continue  # the episode key stays the same: sent at the next check
                now = self.clock.now()
                row = await asyncio.to_thread(
                    self.store.open_alert_message,
                    {
                        "chat_id": chat,
                        "message_id": 0,
                        "created_at": now,
                        "kind": AlertKind.WINDOW,
                        "route": window.route,
                        "rule": window.rule,
                        "key": window.key,
                        "summary": window.message,
                        "inhibits": inhibits.get(window.rule, []),
                        "count": 0,
                        "last_at": now,
                    },
                )
                shown = await self.messages.view(row.id or 0)
                assert shown is not None
                try:
                    _chat, message_id = await self.telegram.send(
                        window.route, shown.text, shown.markup
                    )
                except ResponderError as exc:
                    await asyncio.to_thread(self.store.drop_unsent_alert, row.id or 0)
                    log.warning("window alert %s not sent: %s", window.rule, exc)
                    continue
                await asyncio.to_thread(self.store.alert_message_sent, row.id or 0, message_id, now)
                sent += 1
        return sent
