"""Telegram as the staff's channel: the chats alerts go to, and the bot that posts them.

`TelegramAlerts` posts and edits messages and maps Telegram's errors to retry times; what an
alert says and which buttons it has come from service/alert_views.py, when to post it from the
alert responder (service/grouping.py). Every send and edit is counted in a `FloodBudget`, so
the service can keep each chat under Telegram's limit of 20 messages a minute.
"""

import logging
from collections import deque
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from telegram import Bot, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import BadRequest, RetryAfter, TelegramError

from core.clock import Clock
from core.config_types import blank_is_none, comma_separated, http_url
from core.retry import backoff, retry_after_seconds
from responders.base import ResponderError

log = logging.getLogger(__name__)

REFUSAL = "Sorry, only the support team's agents can act on alerts."
TELEGRAM_PER_MINUTE = 20  # messages a minute into one group


class Route(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    chat_id: int
    topic: int | None = None  # a forum topic (message_thread_id) inside the chat


class SavedReply(BaseModel):
    """A ready answer agents pick from the Reply button; `{author}` and `{platform}` filled in."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=40)
    text: str = Field(min_length=1, max_length=2000)


class TelegramConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    api_base: str = "https://api.telegram.org"
    bot_token: SecretStr = SecretStr("")
    alert_chat_id: int | None = None  # the "staff" route
    escalation_chat_id: int | None = None  # the "escalation" route: leads, on-call
    routes: dict[str, Route] = Field(default_factory=dict)
    # Telegram user ids allowed to act on alerts; empty: anyone in the staff chat.
    agents: list[int] = Field(default_factory=list)

    _chats = field_validator("alert_chat_id", "escalation_chat_id", mode="before")(blank_is_none)
    _lists = field_validator("agents", mode="before")(comma_separated)
    _urls = field_validator("api_base")(http_url)

    @property
    def enabled(self) -> bool:
        return bool(self.bot_token.get_secret_value())

    def route(self, name: str) -> Route | None:
        if name in self.routes:
            return self.routes[name]
        if name == "staff" and self.alert_chat_id is not None:
            return Route(chat_id=self.alert_chat_id)
        if name == "escalation" and self.escalation_chat_id is not None:
            return Route(chat_id=self.escalation_chat_id)
        return None

    def is_agent(self, user_id: int) -> bool:
        return not self.agents or user_id in self.agents


class FloodBudget:
    """Messages and edits per chat in the last minute, on the service's clock.

    PTB's AIORateLimiter would also hold calls back, but by waiting: a storm would stall the
    service for minutes. Counting here lets the service decide to group instead of waiting.
    """

    def __init__(self, clock: Clock, per_minute: int = TELEGRAM_PER_MINUTE - 2):
        self.clock = clock
        self.per_minute = per_minute
        self._calls: dict[str, deque[datetime]] = {}

    def left(self, chat_id: int | str) -> int:
        return self.per_minute - len(self._recent(str(chat_id)))

    def spend(self, chat_id: int | str) -> None:
        self._recent(str(chat_id)).append(self.clock.now())

    def next_free(self, chat_id: int | str) -> datetime:
        calls = self._recent(str(chat_id))
        if len(calls) < self.per_minute:
            return self.clock.now()
        return calls[len(calls) - self.per_minute] + timedelta(minutes=1)

    def busiest_minute(self, chat_id: int | str) -> int:
        """Calls in the last minute (what a test or a health check compares with the limit)."""
        return len(self._recent(str(chat_id)))

    def _recent(self, chat_id: str) -> deque[datetime]:
        calls = self._calls.setdefault(chat_id, deque())
        horizon = self.clock.now() - timedelta(minutes=1)
        while calls and calls[0] <= horizon:
            calls.popleft()
        return calls


class TelegramAlerts:
    """Posts and edits messages in the staff chats, counting each call in the flood budget.

    It knows chats and message ids only: what a message says comes from service/alert_views.py.
    """

    def __init__(self, config: TelegramConfig, bot: Bot, budget: FloodBudget):
        self.config = config
        self.bot = bot
        self.budget = budget

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
        self.budget.spend(route.chat_id)
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
        self.budget.spend(chat_id)
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
        self.budget.spend(chat_id)
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
