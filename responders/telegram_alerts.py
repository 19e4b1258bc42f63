"""Alerts to the staff chat in Telegram, and the buttons agents press on them."""

import logging
import random
from datetime import timedelta
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from telegram import Bot, CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from core.clock import Clock
from core.store import OutboxItem, Store
from responders.alert_format import AlertView, render
from responders.base import Outcome, ResponderError

log = logging.getLogger(__name__)

BUTTONS = {"ack": "👀 Acknowledge", "resolve": "✅ Resolve"}


class Route(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    chat_id: int
    topic: int | None = None  # a forum topic (message_thread_id) inside the chat


class TelegramConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    api_base: str = "https://api.telegram.org"
    bot_token: SecretStr = SecretStr("")
    alert_chat_id: int | None = None  # the "staff" route
    routes: dict[str, Route] = Field(default_factory=dict)
    # Telegram user ids allowed to press alert buttons; empty: anyone in the staff chat.
    agents: list[int] = Field(default_factory=list)

    @field_validator("alert_chat_id", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("agents", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("api_base")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.rstrip("/")

    @property
    def enabled(self) -> bool:
        return bool(self.bot_token.get_secret_value())

    def route(self, name: str) -> Route | None:
        if name in self.routes:
            return self.routes[name]
        if name == "staff" and self.alert_chat_id is not None:
            return Route(chat_id=self.alert_chat_id)
        return None


def keyboard(outbox_id: int, state: str) -> InlineKeyboardMarkup | None:
    """Buttons carry `verb:outbox_id`; what it points to is looked up, never trusted."""
    verbs = {"open": ("ack", "resolve"), "acknowledged": ("resolve",)}.get(state, ())
    if not verbs:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(BUTTONS[v], callback_data=f"{v}:{outbox_id}") for v in verbs]]
    )


class TelegramAlerts:
    kind: ClassVar[str] = "alert"

    def __init__(self, config: TelegramConfig, bot: Bot, store: Store, clock: Clock):
        self.config = config
        self.bot = bot
        self.store = store
        self.clock = clock

    async def perform(self, item: OutboxItem) -> Outcome:
        route = self.config.route(item.target)
        if route is None:
            raise ResponderError(f"no Telegram chat configured for route {item.target!r}", None)
        view = AlertView(
            mention=item.mention,
            urgency=item.urgency or 0,
            sentiment=item.sentiment or 0.0,
            reasons=item.reasons,
            rules=item.rules,
            maybe_repeat=bool(item.payload.get("maybe_repeat")),
        )
        try:
            message = await self.bot.send_message(
                chat_id=route.chat_id,
                message_thread_id=route.topic,
                text=render(view),
                parse_mode=ParseMode.HTML,
                reply_markup=keyboard(item.id, "open"),
                disable_web_page_preview=True,
            )
        except TelegramError as exc:
            raise self._failure(exc, item.attempts) from None
        return Outcome(chat_id=str(route.chat_id), message_id=message.message_id)

    def _failure(self, exc: TelegramError, attempts: int) -> ResponderError:
        now = self.clock.now()
        if isinstance(exc, RetryAfter):
            wait = exc.retry_after
            seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
            return ResponderError(
                f"Telegram flood control ({seconds:.0f} s)", now + timedelta(seconds=seconds)
            )
        if isinstance(exc, BadRequest) and "chat not found" not in exc.message.lower():
            # The message itself is refused (too long, bad markup): sending it again cannot work.
            return ResponderError(f"Telegram refused the alert: {exc.message}", None)
        if isinstance(exc, NetworkError | Forbidden | BadRequest | TelegramError):
            return ResponderError(f"Telegram: {exc.message}", now + backoff(attempts))
        return ResponderError(str(exc), now + backoff(attempts))

    async def handle_button(self, query: CallbackQuery) -> None:
        """Record an agent's tap and show the alert's new state in place."""
        verb, _, raw_id = (query.data or "").partition(":")
        user = query.from_user
        if verb not in BUTTONS or not raw_id.isdigit() or query.message is None:
            await query.answer("This button is not recognised.")
            return
        if self.config.agents and user.id not in self.config.agents:
            await query.answer(
                "Sorry, only the support team's agents can act on alerts.", show_alert=True
            )
            return
        found = self.store.alert_by_outbox(int(raw_id))
        message = query.message
        if (
            found is None
            or found.alert.chat_id != str(message.chat.id)
            or found.alert.message_id != message.message_id
        ):
            await query.answer("This alert is unknown here.")
            return
        who = f"@{user.username}" if user.username else user.full_name
        alert = self.store.record_agent_action(
            found.alert.id or 0, verb, str(user.id), who, self.clock.now()
        )
        view = AlertView(
            mention=found.mention.to_mention(),
            urgency=found.mention.urgency or 0,
            sentiment=found.mention.sentiment or 0.0,
            reasons=tuple(found.mention.reasons or ()),
            rules=tuple(found.mention.rules or ()),
            state=alert.state,
            acted_by=alert.resolved_by if alert.state == "resolved" else alert.acknowledged_by,
        )
        await query.answer({"ack": "Acknowledged.", "resolve": "Resolved."}[verb])
        try:
            await query.edit_message_text(
                render(view),
                parse_mode=ParseMode.HTML,
                reply_markup=keyboard(int(raw_id), alert.state),
                disable_web_page_preview=True,
            )
        except BadRequest as exc:
            # "message is not modified": a second tap on the same state changes nothing.
            log.debug("alert %s not edited: %s", alert.id, exc.message)


def backoff(attempts: int) -> timedelta:
    """5 s, 10 s, 20 s … capped at 10 minutes, with jitter so retries do not arrive in step."""
    base = min(600.0, 5.0 * 2 ** max(0, attempts - 1))
    return timedelta(seconds=base * random.uniform(0.8, 1.2))
