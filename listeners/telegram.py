"""Telegram: messages naming the brand in the groups and channels the bot is a member of.

Telegram pushes, so this is a `PushSource`: the one python-telegram-bot Application of the
service (the same that serves the staff buttons) hands group messages to
`TelegramListener.receive`, which keeps the ones that mention the brand and tells the service
(`handler(on_buffered)`). `fetch` then gives them to the same save as a poll's batch, so they
are saved, triaged and queued with the source's cursor in one transaction.

Cursor: JSON `{"update_id": N}`, the newest update saved. A buffered message stays in the buffer
until a fetch sees a stored cursor at or past it, so a failed save loses nothing: the next fetch
returns it again.
"""

import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from telegram import Message, Update
from telegram.constants import ChatType
from telegram.error import (
    Conflict,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TelegramError,
)
from telegram.ext import Application, MessageHandler, filters

from core.mention import Mention
from core.retry import retry_after_seconds
from listeners.base import (
    Batch,
    ListenerAuthFailed,
    ListenerError,
    ListenerUnavailable,
    RateLimited,
)
from listeners.telegram_config import TelegramGroupsConfig

log = logging.getLogger(__name__)

SOURCE = "telegram:groups"
_GROUP_TYPES = (ChatType.GROUP, ChatType.SUPERGROUP, ChatType.CHANNEL)
_UPDATES_PER_READ = 100  # getUpdates' maximum


@dataclass(frozen=True, slots=True)
class _Buffered:
    update_id: int
    mention: Mention


class TelegramListener:
    platform: ClassVar[str] = "telegram"

    def __init__(self, config: TelegramGroupsConfig, bot_id: int, ignore_chats: set[int]):
        """`bot_id` is our bot (the number before the token's colon); `ignore_chats` the staff's."""
        self.source = SOURCE
        self.config = config
        self.bot_id = bot_id
        self.ignore_chats = ignore_chats
        terms = "|".join(re.escape(k) for k in config.keywords)
        self._keywords = re.compile(rf"(?<!\w)(?:{terms})(?!\w)", re.IGNORECASE)
        self._pending: list[_Buffered] = []
        self._skipped: list[str] = []

    def handler(self, on_buffered: Callable[[], Awaitable[None]]) -> MessageHandler[Any, Any]:
        """The Application handler feeding this listener; `on_buffered` runs after a keep."""

        async def receive(update: Update, _context: object) -> None:
            if self.receive(update):
                await on_buffered()

        new_posts = filters.UpdateType.MESSAGE | filters.UpdateType.CHANNEL_POST
        return MessageHandler(
            new_posts & (filters.ChatType.GROUPS | filters.ChatType.CHANNEL), receive
        )

    def receive(self, update: Update) -> bool:
        """Buffer `update` if it is a message naming the brand; True when it was kept."""
        message = update.message or update.channel_post
        if message is None or message.chat.type not in _GROUP_TYPES:
            return False
        chat_id = message.chat.id
        if chat_id in self.ignore_chats or (self.config.chats and chat_id not in self.config.chats):
            return False
        text = message.text or message.caption or ""
        if not self._keywords.search(text) or _from_a_bot(message, self.bot_id):
            return False
        if message.is_automatic_forward:
            return False  # the channel post itself arrives too; keep one copy
        try:
            mention = _mention(message, text)
        except (AttributeError, TypeError, ValueError) as exc:
            self._skipped.append(f"update {update.update_id}: {exc!r}: {update.to_json()[:200]}")
            return False
        self._pending.append(_Buffered(update.update_id, mention))
        return True

    async def fetch(self, cursor: str | None) -> Batch:
        saved = int(json.loads(cursor)["update_id"]) if cursor else 0
        # What the stored cursor covers was saved: only now may it leave the buffer.
        self._pending = [item for item in self._pending if item.update_id > saved]
        skipped, self._skipped = self._skipped, []
        newest = max((item.update_id for item in self._pending), default=saved)
        return Batch(
            mentions=[item.mention for item in self._pending],
            next_cursor=json.dumps({"update_id": newest}) if newest else None,
            calls=0,
            skipped=skipped,
        )


def _from_a_bot(message: Message, bot_id: int) -> bool:
    sender = message.from_user
    if message.sender_chat is not None or sender is None:
        # Anonymous group admins and channels post as a chat: people, behind a placeholder bot.
        return False
    return sender.is_bot or sender.id == bot_id


def _mention(message: Message, text: str) -> Mention:
    chat = message.chat
    if message.date is None:
        raise ValueError("message without a date")
    author = message.sender_chat or message.from_user
    if author is None:
        raise ValueError("message without a sender")
    if message.sender_chat is not None:
        handle = message.sender_chat.username or message.sender_chat.title or ""
    else:
        user = message.from_user
        assert user is not None
        handle = user.username or user.full_name
    reply = message.reply_to_message
    if message.is_topic_message and message.message_thread_id:
        thread = message.message_thread_id
    else:
        thread = reply.message_id if reply else message.message_id
    return Mention(
        platform="telegram",
        external_id=f"{chat.id}:{message.message_id}",
        text=text,
        created_at=message.date.astimezone(UTC),
        source=SOURCE,
        url=_link(chat.id, chat.username, message.message_id),
        author_id=str(author.id),
        author_handle=handle,
        conversation_id=f"{chat.id}:{thread}",
        in_reply_to_id=f"{chat.id}:{reply.message_id}" if reply else "",
        raw=message.to_dict(),
    )


def _link(chat_id: int, username: str | None, message_id: int) -> str:
    if username:
        return f"https://t.me/{username}/{message_id}"
    internal = str(chat_id)
    if internal.startswith("-100"):
        return f"https://t.me/c/{internal[4:]}/{message_id}"
    return ""  # basic groups have no message links


async def read_waiting_updates(
    application: Application[Any, Any, Any, Any, Any, Any],
    after_page: Callable[[], Awaitable[object]],
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> int:
    """Process the updates waiting at Telegram right now (getUpdates, timeout 0); count them.

    Each page of updates goes through `application` (group messages, button presses), then
    `after_page` saves what the listener buffered, and only then does the next getUpdates
    confirm the page: a crash in between makes Telegram deliver it again, never lose it.
    """
    offset: int | None = None
    total = 0
    while True:
        try:
            updates = await application.bot.get_updates(
                offset=offset,
                timeout=0,
                limit=_UPDATES_PER_READ,
                allowed_updates=Update.ALL_TYPES,
            )
        except TelegramError as exc:
            raise updates_error(exc, clock()) from None
        if not updates:
            return total
        for update in updates:
            await application.process_update(update)
        await after_page()
        total += len(updates)
        offset = updates[-1].update_id + 1


def updates_error(exc: TelegramError, now: datetime) -> ListenerError:
    """A getUpdates failure as the listener error the poll job knows how to handle."""
    if isinstance(exc, RetryAfter):
        seconds = retry_after_seconds(exc.retry_after)
        return RateLimited(
            f"Telegram flood control ({seconds:.0f} s)", now + timedelta(seconds=seconds)
        )
    if isinstance(exc, InvalidToken | Forbidden):
        return ListenerAuthFailed(f"Telegram refused the bot token ({exc.message})")
    if isinstance(exc, Conflict):
        return ListenerUnavailable("another process is reading this bot's updates (409)")
    return ListenerUnavailable(f"Telegram unavailable ({exc.message})")
