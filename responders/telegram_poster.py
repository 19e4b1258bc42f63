"""Replies in Telegram: a message answering the mention in its chat, as the bot."""

from datetime import timedelta
from typing import ClassVar

from telegram import Bot
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut

from core.clock import Clock
from core.mention import Mention
from core.retry import backoff, retry_after_seconds
from responders.replies import CannotCheck, Posted, PostFailed


class TelegramPoster:
    """A message in the same chat answering the mention (`reply_to_message_id`)."""

    platform: ClassVar[str] = "telegram"

    def __init__(self, bot: Bot, account: str, clock: Clock):
        self.bot = bot
        self.account = account
        self.clock = clock

    async def post(self, mention: Mention, text: str) -> Posted:
        chat, _, message = mention.external_id.partition(":")
        raw = mention.raw or {}
        now = self.clock.now()
        try:
            sent = await self.bot.send_message(
                chat_id=int(chat),
                text=text,
                reply_to_message_id=int(message),
                message_thread_id=raw.get("message_thread_id")
                if raw.get("is_topic_message")
                else None,
                disable_web_page_preview=True,
            )
        except RetryAfter as exc:
            wait = timedelta(seconds=retry_after_seconds(exc.retry_after))
            raise PostFailed("Telegram flood control", now + wait) from None
        except (BadRequest, Forbidden) as exc:
            raise PostFailed(f"Telegram refused the reply: {exc.message}", None) from None
        except TimedOut as exc:
            # The request went out; Telegram may well have posted it.
            raise PostFailed(f"Telegram: {exc.message}", now + backoff(1), unknown=True) from None
        except (NetworkError, TelegramError) as exc:
            raise PostFailed(f"Telegram: {exc.message}", now + backoff(1)) from None
        ref = f"{chat}:{sent.message_id}"
        username = (raw.get("chat") or {}).get("username")
        url = f"https://t.me/{username}/{sent.message_id}" if username else ""
        return Posted(ref, url)

    async def find(self, mention: Mention, text: str) -> Posted | None:
        raise CannotCheck("Telegram's Bot API cannot list the messages of a chat")
