"""`/web` in Telegram: an agent gets a one-time login link to the web console, privately.

A link is never posted where others can read it: asked in a group, the bot sends the link to the
agent's private chat, or, when Telegram refuses because the agent never started a chat with the
bot, tells them to do that first. Only agents listed in TELEGRAM_AGENT_IDS get links (with the
list empty anyone could ask, so operators use `main.py web link` instead).
"""

import asyncio
import html
import logging

from telegram import Message, Update
from telegram.constants import ChatType, ParseMode
from telegram.error import Forbidden, TelegramError
from telegram.ext import ContextTypes

from core.clock import Clock
from core.states import WebRole
from core.store import Store
from responders.flood_budget import FloodBudget
from responders.telegram_alerts import REFUSAL
from service.config import AppConfig
from service.staff_buttons import agent_of
from service.web_links import login_link

log = logging.getLogger(__name__)

NO_AGENT_LIST = (
    "Web console links go only to the agents listed in TELEGRAM_AGENT_IDS, and that list is "
    "empty here. An operator can print a link with <code>main.py web link</code>."
)
START_FIRST = (
    "I can't send you a login link here, where others can read it, and Telegram won't let me "
    "write to you first: open a private chat with me, press Start, and send /web there."
)


class WebCommand:
    def __init__(self, store: Store, config: AppConfig, budget: FloodBudget, clock: Clock):
        self.store = store
        self.config = config
        self.budget = budget
        self.clock = clock

    async def web(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat, user, message = update.effective_chat, update.effective_user, update.effective_message
        if chat is None or user is None or message is None or user.is_bot:
            return
        private = chat.type == ChatType.PRIVATE
        telegram = self.config.platforms.telegram
        if not telegram.agents or not telegram.is_agent(user.id):
            if private or chat.id in _staff_chats(self.config):
                await self._say(message, NO_AGENT_LIST if not telegram.agents else REFUSAL)
            return
        if not self.config.web.enabled:
            await self._say(message, "The web console is turned off on this node (web.listen).")
            return
        agent = agent_of(user)
        link = await asyncio.to_thread(
            login_link,
            self.store,
            self.config,
            WebRole.AGENT,
            agent.id,
            agent.name,
            self.clock.now(),
        )
        text = (
            f'Your login link to the web console (works once, for 10 minutes):\n<a href="'
            f'{html.escape(link)}">{html.escape(link)}</a>'
        )
        if private:
            await self._say(message, text)
            return
        try:
            await self.budget.record(user.id)
            await context.bot.send_message(
                user.id, text, parse_mode=ParseMode.HTML, disable_web_page_preview=True
            )
        except Forbidden:
            await self._say(message, START_FIRST)
            return
        except TelegramError as exc:
            log.warning("/web: the login link could not be sent privately: %s", exc)
            await self._say(message, "I could not send you the link privately; try again soon.")
            return
        await self._say(message, "I sent you a login link in our private chat.")

    async def _say(self, message: Message, text: str) -> None:
        await self.budget.record(message.chat_id)
        await message.reply_text(text, parse_mode=ParseMode.HTML, disable_web_page_preview=True)


def _staff_chats(config: AppConfig) -> set[int]:
    telegram = config.platforms.telegram
    routes = [telegram.route(name) for name in ("staff", "escalation", *telegram.routes)]
    return {route.chat_id for route in routes if route is not None}
