"""What agents do with an alert: claim, reply (pick or type, then confirm), escalate, snooze,
resolve, or mark not relevant. One set of operations for every face: the Telegram buttons call
them today, the web console next.

Each operation records who did it, moves the alert's state (the first claim or resolution
wins, a closed alert takes nothing more), edits the alert's message so everyone sees the change,
and answers with one line for the agent. Replies go through the outbox, keyed by their draft,
so a double tap on Send posts once. Database work runs off the event loop.
"""

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from core.alert_state import AgentAction
from core.clock import Clock
from core.models import AlertRow, MentionRow
from core.platforms import author_values
from core.states import FINAL_STATES, AlertKind, DraftState, Origin, OutboxKind
from core.store import PlannedAction, Store
from responders.alert_format import clock_time
from responders.telegram_config import SavedReply
from service.alert_messages import AlertMessages


@dataclass(frozen=True, slots=True)
class Agent:
    """Who acts: their Telegram user id, the name staff know them by, and the face they act
    from (recorded with each action)."""

    id: str
    name: str
    origin: Origin = Origin.TELEGRAM


UNKNOWN_ALERT = "This alert is unknown here."
CLOSED = "This alert is already closed."
ESCALATION_ROUTE = "escalation"


def agent_reply_rule(draft_id: int) -> str:
    """The outbox rule of an agent's reply: one per draft, so it is queued once."""
    return f"agent-reply-{draft_id}"


class AgentWorkflow:
    def __init__(
        self,
        store: Store,
        messages: AlertMessages,
        clock: Clock,
        saved_replies: Sequence[SavedReply],
        zone: tzinfo,
    ):
        self.store = store
        self.messages = messages
        self.clock = clock
        self.saved_replies = tuple(saved_replies)
        self.zone = zone

    # --- the alert's state -----------------------------------------------------------------

    async def claim(self, alert_id: int, agent: Agent) -> str:
        return await self._record(alert_id, agent, AgentAction.CLAIM, "Claimed: it's yours.")

    async def resolve(self, alert_id: int, agent: Agent) -> str:
        return await self._record(alert_id, agent, AgentAction.RESOLVE, "Resolved.")

    async def not_relevant(self, alert_id: int, agent: Agent) -> str:
        answer = "Marked not relevant; the rules' backtest will show it."
        return await self._record(alert_id, agent, AgentAction.NOT_RELEVANT, answer)

    async def snooze(self, alert_id: int, agent: Agent, duration: timedelta) -> str:
        until = self.clock.now() + duration
        answer = f"Snoozed until {clock_time(until, self.zone)}."
        return await self._record(alert_id, agent, AgentAction.SNOOZE, answer, until=until)

    async def escalate(self, alert_id: int, agent: Agent) -> str:
        alert = await self._open_alert(alert_id)
        if isinstance(alert, str):
            return alert
        await self._write(alert_id, agent, AgentAction.ESCALATE, route=ESCALATION_ROUTE)
        await self.messages.escalate(alert_id, f"Escalated by {agent.name}", ESCALATION_ROUTE)
        await self.messages.refresh(alert_id)
        return "Escalated."

    # --- replies ---------------------------------------------------------------------------

    async def start_reply(self, alert_id: int, agent: Agent) -> str:
        alert = await self._open_alert(alert_id)
        if isinstance(alert, str):
            return alert
        if alert.kind != AlertKind.MENTION or alert.mention_id is None:
            answer = "A grouped alert has no single author to answer."
        else:
            await self._write(alert_id, agent, AgentAction.REPLY_START)
            answer = "Pick a saved reply, or answer the alert message with your text."
        await self.messages.refresh(alert_id)
        return answer

    async def stop_reply(self, alert_id: int, agent: Agent) -> str:
        """The agent who pressed Reply changed their mind before writing anything."""
        alert = await self._open_alert(alert_id)
        if isinstance(alert, str):
            return alert
        await asyncio.to_thread(self.store.update_alert, alert_id, replying_id="")
        await self.messages.refresh(alert_id)
        return "Reply cancelled."

    async def pick_saved_reply(self, alert_id: int, agent: Agent, index: int) -> str:
        """A saved reply, filled in for this customer, becomes the agent's draft."""
        alert = await self._open_alert(alert_id)
        if isinstance(alert, str):
            return alert
        if alert.mention_id is None or not 0 <= index < len(self.saved_replies):
            answer = "This saved reply no longer exists."
        else:
            saved = self.saved_replies[index]
            mention = await asyncio.to_thread(self.store.mention, alert.mention_id)
            text = fill(saved.text, mention)
            await asyncio.to_thread(self.store.update_alert, alert_id, replying_id=agent.id)
            await self._draft(alert_id, agent, text, f"saved:{saved.name}")
            answer = "Check the reply, then send it."
        await self.messages.refresh(alert_id)
        return answer

    async def write_reply(self, alert_id: int, agent: Agent, text: str) -> str:
        """The agent's own text becomes their draft in one step (the web's reply form)."""
        alert = await self._open_alert(alert_id)
        if isinstance(alert, str):
            return alert
        if alert.kind != AlertKind.MENTION or alert.mention_id is None:
            return "A grouped alert has no single author to answer."
        if not text.strip():
            return "Write the reply first."
        await self._write(alert_id, agent, AgentAction.REPLY_START)
        await self._draft(alert_id, agent, text, "typed")
        await self.messages.refresh(alert_id)
        return "Check the reply, then send it."

    async def type_reply(self, alert_id: int, agent: Agent, text: str) -> bool:
        """The text of the agent who pressed Reply becomes their draft; False when it is not
        theirs to write (staff also talk in reply threads)."""
        alert = await asyncio.to_thread(self.store.alert, alert_id)
        if alert is None or alert.replying_id != agent.id or alert.state in FINAL_STATES:
            return False
        await self._draft(alert_id, agent, text, "typed")
        await self.messages.refresh(alert_id)
        return True

    async def send_draft(self, draft_id: int, agent: Agent) -> str:
        """Queue the draft as the customer's reply: posted once, however often Send is tapped."""
        refused = await self._draft_refused(draft_id, agent)
        if refused:
            return refused
        draft = await asyncio.to_thread(self.store.draft, draft_id)
        assert draft is not None  # checked above; drafts are never deleted
        action = PlannedAction(
            kind=OutboxKind.REPLY,
            rule=agent_reply_rule(draft_id),
            payload={
                "text": draft.text,
                "template": "",
                "dry_run": False,
                "agent": agent.name,
                "agent_id": agent.id,
                "alert_id": draft.alert_id,
            },
        )
        await asyncio.to_thread(
            self.store.send_draft, draft_id, action, agent.id, agent.name, self._now(), agent.origin
        )
        await self.messages.refresh(draft.alert_id)
        return "Reply queued: it is posted in a moment."

    async def discard_draft(self, draft_id: int, agent: Agent) -> str:
        refused = await self._draft_refused(draft_id, agent)
        if refused:
            return refused
        draft = await asyncio.to_thread(self.store.draft, draft_id)
        assert draft is not None
        await asyncio.to_thread(
            self.store.cancel_draft, draft_id, agent.id, agent.name, self._now(), agent.origin
        )
        await self.messages.refresh(draft.alert_id)
        return "Draft discarded."

    # --- shared steps ----------------------------------------------------------------------

    def _now(self) -> datetime:
        return self.clock.now()

    async def _open_alert(self, alert_id: int) -> AlertRow | str:
        """The alert, or what to tell the agent when there is nothing to do with it."""
        alert = await asyncio.to_thread(self.store.alert, alert_id)
        if alert is None:
            return UNKNOWN_ALERT
        if alert.state in FINAL_STATES:
            await self.messages.refresh(alert_id)
            return CLOSED
        return alert

    async def _record(
        self,
        alert_id: int,
        agent: Agent,
        action: AgentAction,
        answer: str,
        until: datetime | None = None,
    ) -> str:
        alert = await self._open_alert(alert_id)
        if isinstance(alert, str):
            return alert
        await self._write(alert_id, agent, action, until=until)
        await self.messages.refresh(alert_id)
        return answer

    async def _write(
        self,
        alert_id: int,
        agent: Agent,
        action: AgentAction,
        until: datetime | None = None,
        route: str = "",
    ) -> None:
        await asyncio.to_thread(
            self.store.record_agent_action,
            alert_id,
            action,
            agent.id,
            agent.name,
            self._now(),
            until=until,
            route=route,
            origin=agent.origin,
        )

    async def _draft(self, alert_id: int, agent: Agent, text: str, source: str) -> None:
        await asyncio.to_thread(
            self.store.add_draft, alert_id, text, source, agent.id, agent.name, self._now()
        )

    async def _draft_refused(self, draft_id: int, agent: Agent) -> str:
        """Why `agent` may not send or discard draft `draft_id`, or "" when they may."""
        draft = await asyncio.to_thread(self.store.draft, draft_id)
        if draft is None:
            return "This draft is unknown here."
        if draft.state != DraftState.PENDING:
            return "This draft was already sent or discarded."
        if draft.user_id != agent.id:
            return f"Only {draft.user_name} can send or discard this draft."
        return ""


def fill(template: str, mention: MentionRow | None) -> str:
    """A saved reply with `{author}` and `{platform}` filled in; nothing else is substituted."""
    if mention is None:
        values = {"author": "", "platform": ""}
    else:
        values = author_values(mention.platform, mention.author_handle, mention.author_id)
    return template.replace("{author}", values["author"]).replace("{platform}", values["platform"])
