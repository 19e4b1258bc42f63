"""Telegram as the staff's channel: the chats alerts go to, and the bot that posts them.

`TelegramAlerts` posts and edits messages and maps Telegram's errors to retry times; what an
alert says and which buttons it has come from service/alert_views.py, when to post it from the
alert responder (service/grouping.py). Every send and edit is counted in a `FloodBudget`, so
the service can keep each chat under Telegram's limit of 20 messages a minute, counted in the
database so that several nodes share it.
"""

import logging
from datetime import timedelta

from telegram import Bot, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import BadRequest, RetryAfter, TelegramError

from core.retry import backoff, retry_after_seconds
from responders.base import ResponderError
from responders.flood_budget import FloodBudget
from responders.telegram_config import TelegramConfig

log = logging.getLogger(__name__)

REFUSAL = "Sorry, only the support team's agents can act on alerts."


class TelegramAlerts:
    """Posts and edits messages in the staff chats, counting each call in the flood budget.

    It knows chats and message ids only: what a message says comes from service/alert_views.py.
    """

    def __init__(self, config: TelegramConfig, bot: Bot, budget: FloodBudget):
        self.config = config
        self.bot = bot
        self.budget = budget

    async def refresh_budget(self) -> None:
        """Read the staff chats' sends of the last minute again, other nodes' included."""
        await self.budget.refresh(self.config.chat_ids())

    async def send(
        self,
        route_name: str,
        text: str,
        markup: InlineKeyboardMarkup | None = None,
        attempts: int = 1,
    ) -> tuple[int, int]:
        """Post `text` to a route; (chat id, message id). Raises ResponderError."""
        route = self.config.route(route_name)
        if route is None:
            raise ResponderError(f"no Telegram chat configured for route {route_name!r}", None)
        if not await self.budget.take(route.chat_id):
            retry_at = self.budget.next_free(route.chat_id)
            raise ResponderError("the chat's minute budget is spent", retry_at)
        try:
            message = await self.bot.send_message(
                chat_id=route.chat_id,
                message_thread_id=route.topic,
                text=text,
                parse_mode=ParseMode.HTML,
                reply_markup=markup,
                disable_web_page_preview=True,
            )
        except TelegramError as exc:
            raise self._failure(exc, attempts) from None
        return route.chat_id, message.message_id

    async def edit(
        self, chat_id: str, message_id: int, text: str, markup: InlineKeyboardMarkup | None
    ) -> bool:
        """Show `text` in the message instead; False when Telegram could not be told."""
        if not await self.budget.take(chat_id):
            log.debug("message %s not edited yet: the chat's minute budget is spent", message_id)
            return False
        try:
            await self.bot.edit_message_text(
                text,
                chat_id=int(chat_id),
                message_id=message_id,
                parse_mode=ParseMode.HTML,
                reply_markup=markup,
                disable_web_page_preview=True,
            )
        except BadRequest as exc:
            # "message is not modified": a second tap on the same state changes nothing.
            log.debug("message %s not edited: %s", message_id, exc.message)
        except TelegramError as exc:
            log.warning("message %s could not be updated: %s", message_id, exc)
            return False
        return True

    async def notify(self, chat_id: str, message_id: int, text: str) -> bool:
        """A short note answering message `message_id` (SLA warning, snooze over, reply note)."""
        if not await self.budget.take(chat_id):
            log.warning("note on message %s not sent: the chat's budget is spent", message_id)
            return False
        try:
            await self.bot.send_message(
                chat_id=int(chat_id),
                text=text,
                parse_mode=ParseMode.HTML,
                reply_to_message_id=message_id or None,
                allow_sending_without_reply=True,
            )
        except TelegramError as exc:
            log.warning("note on message %s not sent: %s", message_id, exc)
            return False
        return True

    def _failure(self, exc: TelegramError, attempts: int) -> ResponderError:
        now = self.budget.clock.now()
        if isinstance(exc, RetryAfter):
            seconds = retry_after_seconds(exc.retry_after)
            return ResponderError(
                f"Telegram flood control ({seconds:.0f} s)", now + timedelta(seconds=seconds)
            )
        if isinstance(exc, BadRequest) and "chat not found" not in exc.message.lower():
            # The message itself is refused (too long, bad markup): sending it again cannot work.
            return ResponderError(f"Telegram refused the alert: {exc.message}", None)
        return ResponderError(f"Telegram: {exc.message}", now + backoff(attempts))
