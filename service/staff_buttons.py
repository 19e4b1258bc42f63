"""Agents' taps and replies in the staff chat, handed to the agent workflow.

A tap's data is checked before anything happens: a button of ours, pressed by an agent, on the
message of the alert it names (data can be forged; the message a tap came from cannot).
"""

import asyncio

from telegram import CallbackQuery, Message, Update, User
from telegram.ext import ContextTypes

from core.models import AlertRow
from core.states import Delivery
from core.store import Store
from responders.alert_buttons import DRAFT_VERBS, SNOOZES, Tap
from responders.telegram_alerts import REFUSAL
from responders.telegram_config import TelegramConfig
from service.show_each import ShowEach
from service.workflow import UNKNOWN_ALERT, Agent, AgentWorkflow


class StaffButtons:
    def __init__(
        self,
        store: Store,
        workflow: AgentWorkflow,
        config: TelegramConfig,
        show_each: ShowEach | None = None,
    ):
        self.store = store
        self.workflow = workflow
        self.config = config
        self.show_each = show_each

    async def on_button(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        tap = Tap.parse(query.data or "")
        if tap is None:
            await query.answer("This button is not recognised.")
        elif query.message is None:
            await query.answer(UNKNOWN_ALERT)
        elif not self.config.is_agent(query.from_user.id):
            await query.answer(REFUSAL, show_alert=True)
        else:
            await query.answer(await self._act(tap, query))

    async def _act(self, tap: Tap, query: CallbackQuery) -> str:
        """Hand a checked tap to the workflow; what to tell the agent."""
        agent = agent_of(query.from_user)
        flow = self.workflow
        if tap.verb in DRAFT_VERBS:
            draft = await asyncio.to_thread(self.store.draft, tap.target)
            if draft is None or await self._shown_in(draft.alert_id, query.message) is None:
                return "This draft is unknown here."
            if tap.verb == "send":
                return await flow.send_draft(tap.target, agent)
            return await flow.discard_draft(tap.target, agent)
        if await self._shown_in(tap.target, query.message) is None:
            return UNKNOWN_ALERT
        alert_id = tap.target
        if tap.verb == "claim":
            return await flow.claim(alert_id, agent)
        if tap.verb == "resolve":
            return await flow.resolve(alert_id, agent)
        if tap.verb == "nr":
            return await flow.not_relevant(alert_id, agent)
        if tap.verb in SNOOZES:
            return await flow.snooze(alert_id, agent, SNOOZES[tap.verb])
        if tap.verb == "esc":
            return await flow.escalate(alert_id, agent)
        if tap.verb == "reply":
            return await flow.start_reply(alert_id, agent)
        if tap.verb == "noreply":
            return await flow.stop_reply(alert_id, agent)
        if tap.verb == "each":
            if self.show_each is None:
                return UNKNOWN_ALERT
            return await self.show_each.request(alert_id)
        return await flow.pick_saved_reply(alert_id, agent, tap.saved)

    async def on_reply(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        """An agent who pressed Reply answers the alert message: that text becomes a draft."""
        message = update.message
        if message is None or message.reply_to_message is None or not message.text:
            return
        user = message.from_user
        if user is None or not self.config.is_agent(user.id):
            return
        alert = await asyncio.to_thread(
            self.store.alert_by_message,
            str(message.chat.id),
            message.reply_to_message.message_id,
        )
        if alert is not None and alert.id is not None:
            await self.workflow.type_reply(alert.id, agent_of(user), message.text)

    async def _shown_in(self, alert_id: int, message: object) -> AlertRow | None:
        """The alert `alert_id`, only if it is the one shown in `message`."""
        if not isinstance(message, Message):
            return None
        alert = await asyncio.to_thread(self.store.alert, alert_id)
        if (
            alert is None
            or alert.delivery != Delivery.SENT
            or alert.chat_id != str(message.chat.id)
            or alert.message_id != message.message_id
        ):
            return None
        return alert


def agent_of(user: User) -> Agent:
    return Agent(str(user.id), f"@{user.username}" if user.username else user.full_name)
