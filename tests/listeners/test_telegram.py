"""TelegramListener fed by a real python-telegram-bot Application from the fake Bot API."""

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from telegram.ext import Application

from listeners.base import Batch, ListenerUnavailable, RateLimited
from listeners.telegram import TelegramGroupsConfig, TelegramListener, read_waiting_updates
from sandbox import FakeTelegram

FIXTURES = Path("/work/shared/data/telegram/teloxide_fixtures")
GROUP, STAFF = -1007770001, -1007770099
Bot = Application[Any, Any, Any, Any, Any, Any]


@pytest.fixture
async def bot(fake_telegram: FakeTelegram) -> AsyncIterator[Bot]:
    application = (
        Application.builder()
        .token(fake_telegram.token)
        .base_url(f"{fake_telegram.base_url}/bot")
        .build()
    )
    async with application:
        yield application


def listen(fake: FakeTelegram, application: Bot, **options: Any) -> TelegramListener:
    config = TelegramGroupsConfig(**{"keywords": ["acme", "@AcmeSupport"], **options})
    listener = TelegramListener(config, fake.bot["id"], ignore_chats={STAFF})
    application.add_handler(listener.handler(_nothing))
    return listener


async def _nothing() -> None:
    return None


async def take(application: Bot, listener: TelegramListener, cursor: str | None = None) -> Batch:
    await read_waiting_updates(application, _nothing)
    return await listener.fetch(cursor)


async def test_group_messages_naming_the_brand_become_mentions(
    fake_telegram: FakeTelegram, bot: Bot
) -> None:
    listener = listen(fake_telegram, bot)
    dana = {"id": 501, "first_name": "Dana", "username": "dana_k"}
    fake_telegram.push_group_message(GROUP, "Is the Acme app down for anyone?", from_user=dana)
    first = fake_telegram.messages(GROUP)[-1]["message_id"]
    fake_telegram.push_reply(GROUP, first, "same here, @AcmeSupport?", from_user={"id": 502})
    fake_telegram.push_group_message(GROUP, "lunch anyone?")
    batch = await take(bot, listener)
    asked, replied = batch.mentions
    assert asked.external_id == f"{GROUP}:{first}"
    assert (asked.author_id, asked.author_handle) == ("501", "dana_k")
    assert asked.url == f"https://t.me/c/{str(GROUP)[4:]}/{first}"
    assert replied.in_reply_to_id == asked.external_id
    assert replied.conversation_id == asked.conversation_id == f"{GROUP}:{first}"
    assert json.loads(batch.next_cursor or "{}")["update_id"] > 0


async def test_bots_our_own_bot_staff_chats_private_chats_and_edits_are_not_mentions(
    fake_telegram: FakeTelegram, bot: Bot
) -> None:
    listener = listen(fake_telegram, bot)
    fake_telegram.push_group_message(GROUP, "acme promo!", is_bot=True)
    fake_telegram.push_group_message(GROUP, "acme", from_user=fake_telegram.bot)
    fake_telegram.push_group_message(STAFF, "the acme alert above is handled")
    fake_telegram.push_group_message(5964236329, "hi acme")  # a private chat with the bot
    edited = {"message_id": 9, "date": 1767600000, "edit_date": 1767600100, "text": "acme"}
    fake_telegram.push_update(
        "edited_message",
        {
            **edited,
            "chat": {"id": GROUP, "type": "supergroup"},
            "from": {"id": 7, "is_bot": False, "first_name": "E"},
        },
    )
    assert (await take(bot, listener)).mentions == []


async def test_recorded_group_payloads_anonymous_admins_and_topics(
    fake_telegram: FakeTelegram, bot: Bot
) -> None:
    listener = listen(fake_telegram, bot, keywords=["report", "text"])
    topic_reply = json.loads((FIXTURES / "update_supergroup_bot_command_reply.json").read_text())
    anonymous = json.loads(
        (FIXTURES / "message_supergroup_anonymous_admin_forward.json").read_text()
    )
    fake_telegram.push_update("message", topic_reply["message"])
    fake_telegram.push_update("message", anonymous)
    report, admin = (await take(bot, listener)).mentions
    assert report.url == "https://t.me/cryptoinside_talk/134546"
    assert report.author_handle == "spacewhaleblues"
    assert report.conversation_id == "-1001293752024:134545"  # the forum topic
    # Sent by a group admin "as the group": a person, though `from` is a placeholder bot.
    assert (admin.author_id, admin.author_handle) == ("-1001160242915", "a")


async def test_a_failed_save_keeps_the_messages_for_the_next_fetch(
    fake_telegram: FakeTelegram, bot: Bot
) -> None:
    listener = listen(fake_telegram, bot)
    fake_telegram.push_group_message(GROUP, "acme order lost")
    unsaved = await take(bot, listener)
    assert fake_telegram.pending_updates == []  # confirmed at Telegram …
    again = await listener.fetch(None)  # … but nothing saved them: still here
    assert again.mentions == unsaved.mentions
    saved = await listener.fetch(again.next_cursor)  # the cursor says they were saved
    assert saved.mentions == []


async def test_a_page_is_confirmed_only_after_it_was_saved(
    fake_telegram: FakeTelegram, bot: Bot
) -> None:
    listen(fake_telegram, bot)
    fake_telegram.push_group_message(GROUP, "acme order lost")

    async def database_down() -> None:
        raise ConnectionError("database went away")

    with pytest.raises(ConnectionError):
        await read_waiting_updates(bot, database_down)
    assert len(fake_telegram.pending_updates) == 1  # Telegram delivers it again next time


async def test_reading_updates_maps_telegram_errors(fake_telegram: FakeTelegram, bot: Bot) -> None:
    fake_telegram.rate_limit_next(42)
    with pytest.raises(RateLimited, match="42 s"):
        await read_waiting_updates(bot, _nothing)
    fake_telegram.fail_next(502)
    with pytest.raises(ListenerUnavailable):
        await read_waiting_updates(bot, _nothing)
