"""📋 Show each: a group's folded mentions posted as alerts of their own, paced by the budget.

Every folded mention is a customer who expects an answer. An agent's tap marks the group's
mentions (core/store.unfold); each outbox pass then posts the most urgent of them while the
chat's minute budget keeps room for edits and escalations, each with its own Claim and Reply
buttons. A mention is posted once: its row moves from `unfolding` to `posting` (claimed by one
node) to `sent` with its message.
It stays counted in the group, so resolving the group still closes every one of them.
"""

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from core.clock import Clock
from core.states import FINAL_STATES, AlertKind
from core.store import Store
from responders.base import ResponderError
from service.alert_messages import AlertMessages
from service.budget_shares import EDIT_NEEDS, SINGLE_NEEDS

log = logging.getLogger(__name__)

Deadlines = Callable[[str, int, datetime], tuple[datetime | None, datetime | None]]
PER_PASS = 50  # mentions looked at per outbox pass (the budget stops it well before)
# A claim this old is of a node that died between claiming a mention and recording its post.
CLAIM_STALE = timedelta(minutes=2)


class ShowEach:
    def __init__(self, store: Store, messages: AlertMessages, clock: Clock, deadlines: Deadlines):
        self.store = store
        self.messages = messages
        self.telegram = messages.telegram
        self.budget = messages.telegram.budget
        self.clock = clock
        self.deadlines = deadlines

    async def request(self, group_id: int) -> str:
        """An agent tapped Show each on group `group_id`'s message; what to tell them."""
        group = await asyncio.to_thread(self.store.alert, group_id)
        if group is None or group.kind != AlertKind.GROUP:
            return "Only a group's message has mentions to show one by one."
        if group.state in FINAL_STATES:
            return "This group is closed."
        marked = await asyncio.to_thread(self.store.unfold, group_id)
        _posted, waiting = await asyncio.to_thread(self.store.unfold_progress, group_id)
        if self.budget.left(group.chat_id) >= EDIT_NEEDS:
            await self.messages.refresh(group_id)  # "Posting them one by one: …"
        if not marked:
            return f"Already posting them: {waiting:,} to go." if waiting else "All are shown."
        per_minute = max(1, self.budget.per_minute - SINGLE_NEEDS + 1)
        return (
            f"Posting {marked:,} mentions one by one, most urgent first, "
            f"about {per_minute} a minute."
        )

    async def post_due(self) -> int:
        """Post waiting mentions while their chats have room; how many were posted."""
        stale = self.clock.now() - CLAIM_STALE
        waiting = await asyncio.to_thread(self.store.unfolding, PER_PASS, stale)
        posted = 0
        touched: dict[int, str] = {}  # group → its chat
        for found in waiting:
            alert = found.alert
            if self.budget.left(alert.chat_id) < SINGLE_NEEDS:
                continue  # paced: the next pass, once the minute has room
            # Every node runs this pass: the one whose claim succeeds posts it, once.
            claimed = await asyncio.to_thread(
                self.store.claim_unfolding, alert.id or 0, self.clock.now(), stale
            )
            shown = await self.messages.view(alert.id or 0) if claimed else None
            if shown is None:
                continue
            try:
                _chat, message_id = await self.telegram.send(alert.route, shown.text, shown.markup)
            except ResponderError as exc:
                await asyncio.to_thread(self.store.release_unfolding, alert.id or 0)
                log.warning("mention %s not shown on its own: %s", alert.mention_id, exc)
                break  # the chat refuses now: the rest wait for the next pass, in order
            urgency = (found.mention.urgency or 0) if found.mention is not None else 0
            start = found.mention.created_at if found.mention is not None else alert.created_at
            now = self.clock.now()
            due, warn = self.deadlines(alert.route, urgency, min(start, now))
            await asyncio.to_thread(self.store.unfolded, alert.id or 0, message_id, now, due, warn)
            posted += 1
            if alert.group_id is not None:
                touched[alert.group_id] = alert.chat_id
        for group_id, chat in touched.items():
            # One edit when a group's last one is out (its line then says so), not one a pass.
            _posted, left = await asyncio.to_thread(self.store.unfold_progress, group_id)
            if not left and self.budget.left(chat) >= EDIT_NEEDS:
                await self.messages.refresh(group_id)
        return posted
