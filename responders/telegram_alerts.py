"""Telegram as the staff's channel: the chats alerts go to, and the bot that posts them.

`TelegramAlerts` posts and edits messages and maps Telegram's errors to retry times; what an
alert says and which buttons it has come from service/alert_views.py, when to post it from the
alert responder (service/grouping.py). Every send and edit is counted in a `FloodBudget`, so
the service can keep each chat under Telegram's limit of 20 messages a minute, counted in the
database so that several nodes share it.
"""

import asyncio
import logging
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Protocol

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

    def chat_ids(self) -> set[int]:
        """Every chat a route points at: the staff chats whose minute budget is watched."""
        names = ("staff", "escalation", *self.routes)
        return {route.chat_id for route in map(self.route, names) if route is not None}


class BudgetLedger(Protocol):
    """Where every node's sends are counted (core.store.Store, on the shared database)."""

    def spend_telegram(
        self, chat_id: str, now: datetime, per_minute: int | None
    ) -> tuple[bool, list[float]]: ...

    def telegram_sends(self, chat_ids: Iterable[str], now: datetime) -> dict[str, list[float]]: ...


class FloodBudget:
    """Messages and edits per chat in the last minute, on the service's clock, by every node.

    PTB's AIORateLimiter would also hold calls back, but by waiting: a storm would stall the
    service for minutes. Counting here lets the service decide to group instead of waiting.
    The count lives in the database, so nodes sharing it share each chat's 20 a minute: `take`
    checks and counts a send in one transaction. `left` and `next_free` answer from the chat's
    sends as last read (by each `take`, and by `refresh` before the service plans a batch), so
    planning costs no query; when another node took the room since, `take` refuses the send.
    """

    def __init__(
        self, clock: Clock, ledger: BudgetLedger, per_minute: int = TELEGRAM_PER_MINUTE - 2
    ):
        self.clock = clock
        self.ledger = ledger
        self.per_minute = per_minute
        self._sends: dict[str, list[float]] = {}  # chat -> POSIX seconds, oldest first

    def left(self, chat_id: int | str) -> int:
        return self.per_minute - len(self._recent(str(chat_id)))

    async def take(self, chat_id: int | str) -> bool:
        """Count one send into the chat if the minute has room for it; False: it has none."""
        return await self._spend(str(chat_id), self.per_minute)

    async def record(self, chat_id: int | str) -> None:
        """Count a send that goes out whatever the budget (an answer to a staff command)."""
        await self._spend(str(chat_id), None)

    async def refresh(self, chat_ids: Iterable[int | str]) -> None:
        """Read the chats' sends of the last minute again, other nodes' included."""
        chats = {str(chat) for chat in chat_ids}
        if chats:
            now = self.clock.now()
            self._sends.update(await asyncio.to_thread(self.ledger.telegram_sends, chats, now))

    def next_free(self, chat_id: int | str) -> datetime:
        calls = self._recent(str(chat_id))
        if len(calls) < self.per_minute:
            return self.clock.now()
        oldest = calls[len(calls) - self.per_minute]
        return datetime.fromtimestamp(oldest, UTC) + timedelta(minutes=1)

    def busiest_minute(self, chat_id: int | str) -> int:
        """Calls in the last minute (what a test or a health check compares with the limit)."""
        return len(self._recent(str(chat_id)))

    async def _spend(self, chat_id: str, per_minute: int | None) -> bool:
        now = self.clock.now()
        spent, sends = await asyncio.to_thread(self.ledger.spend_telegram, chat_id, now, per_minute)
        self._sends[chat_id] = sends
        return spent

    def _recent(self, chat_id: str) -> list[float]:
        horizon = (self.clock.now() - timedelta(minutes=1)).timestamp()
        calls = [moment for moment in self._sends.get(chat_id, []) if moment > horizon]
        self._sends[chat_id] = calls
        return calls


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
