"""FakeTelegram exercised through the real python-telegram-bot Bot and Application."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, ReplyParameters, Update
from telegram.error import (
    BadRequest,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
)
from telegram.error import TelegramError as PTBError
from telegram.ext import Application, CallbackQueryHandler, ContextTypes, MessageHandler, filters

from sandbox import FakeTelegram, make_user

# PTB 22 warns from inside RetryAfter.__init__ itself (int vs timedelta retry_after).
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after:DeprecationWarning")

GROUP = -1001293752024
AGENT = make_user(408258968, "Hirrolot", "hirrolot")


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot(fake.token, base_url=f"{fake.base_url}/bot") as client:
        yield client


def _keyboard(*data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(d, callback_data=d) for d in data]])


async def test_get_me_and_tokens(fake: FakeTelegram, bot: Bot) -> None:
    me = await bot.get_me()
    assert (me.username, me.is_bot, me.can_join_groups) == ("BrandPulseBot", True, True)
    with pytest.raises(InvalidToken, match="rejected by the server"):
        async with Bot("123:wrong", base_url=f"{fake.base_url}/bot"):
            pass
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("sendTelepathy")


async def test_send_message_shape_and_record(fake: FakeTelegram, bot: Bot) -> None:
    message = await bot.send_message(
        GROUP,
        "<b>New mention</b> from @dana_k &amp; friends",
        parse_mode="HTML",
        reply_markup=_keyboard("ack:1", "resolve:1"),
        disable_web_page_preview=True,
    )

    assert message.text == "New mention from @dana_k & friends"
    assert message.chat.type == "supergroup"
    assert message.from_user.is_bot
    assert message.reply_markup.inline_keyboard[0][1].callback_data == "resolve:1"
    [sent] = fake.sent
    assert sent.chat_id == GROUP
    assert sent.text == "<b>New mention</b> from @dana_k &amp; friends"
    assert sent.parse_mode == "HTML"
    assert sent.link_preview_disabled
    assert sent.message_id == message.message_id
    assert sent.reply_markup == {
        "inline_keyboard": [
            [
                {"text": "ack:1", "callback_data": "ack:1"},
                {"text": "resolve:1", "callback_data": "resolve:1"},
            ]
        ]
    }
    # PTB sends a form whose nested objects are JSON strings.
    assert isinstance(fake.calls("/bot", "POST")[-1].body["reply_markup"], str)


async def test_replies_to_messages(fake: FakeTelegram, bot: Bot) -> None:
    fake.push_group_message(GROUP, "my order is late", chat_title="Acme Customers")
    original = fake.messages(GROUP)[0]["message_id"]

    answer = await bot.send_message(GROUP, "Sorry!", reply_to_message_id=original)
    assert answer.reply_to_message.text == "my order is late"
    assert fake.sent[0].reply_to == original

    with pytest.raises(BadRequest, match=r"(?i)message to be replied not found"):
        await bot.send_message(GROUP, "lost", reply_parameters=ReplyParameters(9999))
    fallback = await bot.send_message(
        GROUP, "ok", reply_parameters=ReplyParameters(9999, allow_sending_without_reply=True)
    )
    assert fallback.reply_to_message is None


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"text": "a < b", "parse_mode": "HTML"}, "can't parse entities"),
        ({"text": "<b>open", "parse_mode": "HTML"}, "Can't find end tag"),
        ({"text": "<blink>x</blink>", "parse_mode": "HTML"}, "Unsupported start tag"),
        ({"text": "Order 42 is late.", "parse_mode": "MarkdownV2"}, "Character '.' is reserved"),
        ({"text": "x" * 4097}, "message is too long"),
        ({"text": "x", "reply_markup": _keyboard("x" * 65)}, "BUTTON_DATA_INVALID"),
    ],
)
async def test_telegram_rejects_what_telegram_rejects(
    bot: Bot, kwargs: dict[str, Any], error: str
) -> None:
    with pytest.raises(BadRequest, match=f"(?i){error}"):
        await bot.send_message(GROUP, **kwargs)


async def test_valid_markdown_v2_is_accepted(bot: Bot) -> None:
    message = await bot.send_message(GROUP, r"*Order 42* is late\. `a.b`", parse_mode="MarkdownV2")
    assert message.message_id


async def test_edits_and_deletes_update_history(fake: FakeTelegram, bot: Bot) -> None:
    alert = await bot.send_message(GROUP, "New mention", reply_markup=_keyboard("ack:7"))

    edited = await bot.edit_message_text(
        "New mention (acked by @hirrolot)", chat_id=GROUP, message_id=alert.message_id
    )
    assert edited.edit_date is not None
    [current] = fake.messages(GROUP)
    assert current["text"] == "New mention (acked by @hirrolot)"
    assert "reply_markup" not in current  # an edit without markup drops the keyboard

    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text(
            "New mention (acked by @hirrolot)", chat_id=GROUP, message_id=alert.message_id
        )
    await bot.edit_message_reply_markup(GROUP, alert.message_id, reply_markup=_keyboard("undo:7"))
    assert fake.messages(GROUP)[0]["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == (
        "undo:7"
    )
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("x", chat_id=GROUP, message_id=424242)

    assert await bot.delete_message(GROUP, alert.message_id)
    assert fake.messages(GROUP) == []
    with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
        await bot.delete_message(GROUP, alert.message_id)


async def test_commands_and_lifecycle_methods(fake: FakeTelegram, bot: Bot) -> None:
    assert await bot.set_my_commands([("ack", "Acknowledge an alert")])
    assert fake.commands == [{"command": "ack", "description": "Acknowledge an alert"}]
    assert [c.command for c in await bot.get_my_commands()] == ["ack"]
    assert await bot.delete_webhook()
    assert await bot.close()
    assert await bot.log_out()


async def test_application_polling_receives_messages_buttons_and_replies(
    fake: FakeTelegram,
) -> None:
    received: list[Update] = []

    async def on_update(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        received.append(update)
        if update.callback_query:
            await update.callback_query.answer("Acknowledged")

    app = Application.builder().token(fake.token).base_url(f"{fake.base_url}/bot").build()
    app.add_handler(MessageHandler(filters.TEXT, on_update))
    app.add_handler(CallbackQueryHandler(on_update))
    async with app:
        await app.start()
        # Long polls of 30 s, updates awaited for 20 at most: they arrive only if a parked
        # poll ends as soon as an update comes in (no stopwatch: a busy machine is slow).
        await app.updater.start_polling(timeout=30)
        alert = await app.bot.send_message(GROUP, "New mention", reply_markup=_keyboard("ack:1"))
        fake.push_group_message(
            GROUP, "@AcmeSupport where is my parcel? /status", chat_title="Acme"
        )
        query_id = fake.press_button(GROUP, alert.message_id, "ack:1", from_user=AGENT)
        fake.push_reply(GROUP, alert.message_id, "on it", from_user=AGENT)
        await _until(lambda: len(received) == 3 and bool(fake.answered_callbacks), 20)
        await app.updater.stop()
        await app.stop()

    message, press, reply = received
    assert message.message.chat.title == "Acme"
    assert [e.type for e in message.message.entities] == ["mention", "bot_command"]
    assert press.callback_query.data == "ack:1"
    assert press.callback_query.message.message_id == alert.message_id
    assert press.callback_query.chat_instance
    assert reply.message.reply_to_message.message_id == alert.message_id
    assert reply.message.from_user.username == "hirrolot"
    [answer] = fake.answered_callbacks
    assert (answer.callback_query_id, answer.text) == (query_id, "Acknowledged")
    assert fake.calls("/bot", "POST")[0].path.endswith("/getMe")


async def _until(condition: Any, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.005)


async def test_long_poll_wakes_on_push(fake: FakeTelegram, bot: Bot) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=30))
    await _until(lambda: fake.waiting_polls == 1)
    update_id = fake.push_group_message(GROUP, "hello")
    [update] = await asyncio.wait_for(poll, timeout=5)
    assert update.update_id == update_id


async def test_offset_confirms_and_allowed_updates_filter(fake: FakeTelegram, bot: Bot) -> None:
    alert = await bot.send_message(GROUP, "alert", reply_markup=_keyboard("ack:2"))
    first = fake.push_group_message(GROUP, "one")
    fake.press_button(GROUP, alert.message_id, "ack:2")
    assert [u.update_id for u in await bot.get_updates()] == [first, first + 1]
    assert [u.update_id for u in await bot.get_updates(offset=first + 1)] == [first + 1]
    fake.push_group_message(GROUP, "two")
    only_callbacks = await bot.get_updates(offset=first + 1, allowed_updates=["callback_query"])
    assert [u.callback_query.data for u in only_callbacks] == ["ack:2"]
    assert await bot.delete_webhook(drop_pending_updates=True)
    assert fake.pending_updates == []


async def test_second_poller_conflicts_the_first(fake: FakeTelegram, bot: Bot) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=30))
    await _until(lambda: fake.waiting_polls == 1)
    # A second process polling the same token, e.g. another node of the service.
    async with Bot(fake.token, base_url=f"{fake.base_url}/bot") as other_node:
        assert await other_node.get_updates(timeout=0) == ()
    with pytest.raises(Conflict, match="terminated by other getUpdates request"):
        await asyncio.wait_for(first, timeout=5)


async def test_privacy_mode_hides_ordinary_group_chatter() -> None:
    with FakeTelegram(can_read_all_group_messages=False) as fake:
        assert fake.push_group_message(GROUP, "just chatting") is None
        assert fake.push_group_message(GROUP, "hey @BrandPulseBot help") is not None
        assert fake.push_group_message(GROUP, "/status") is not None
        async with Bot(fake.token, base_url=f"{fake.base_url}/bot") as bot:
            alert = await bot.send_message(GROUP, "alert")
            assert fake.push_reply(GROUP, alert.message_id, "thanks") is not None
            assert len(await bot.get_updates()) == 3
            assert (await bot.get_me()).can_read_all_group_messages is False


async def test_button_knob_and_callback_answers(fake: FakeTelegram, bot: Bot) -> None:
    alert = await bot.send_message(GROUP, "alert", reply_markup=_keyboard("ack:3"))
    with pytest.raises(ValueError, match="no button"):
        fake.press_button(GROUP, alert.message_id, "delete-everything")
    query_id = fake.press_button(GROUP, alert.message_id, "ack:3")
    assert await bot.answer_callback_query(query_id, text="Done", show_alert=True)
    assert fake.answered_callbacks[0].show_alert
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query(query_id)


async def test_flood_limits_per_group_and_overall() -> None:
    clock = [1_700_000_000.0]
    with FakeTelegram(enforce_limits=True, clock=lambda: clock[0]) as fake:
        async with Bot(fake.token, base_url=f"{fake.base_url}/bot") as limited:
            for i in range(19):
                await limited.send_message(GROUP, f"alert {i}")
                clock[0] += 0.5
            first = fake.sent[0]
            await limited.edit_message_text("edited", GROUP, first.message_id)  # the 20th
            clock[0] += 0.5
            with pytest.raises(RetryAfter, match="Retry in 50 seconds"):
                await limited.send_message(GROUP, "one too many")
            with pytest.raises(RetryAfter, match="Retry in 50 seconds"):
                await limited.edit_message_text("edited again", GROUP, first.message_id)
            clock[0] += 50
            await limited.send_message(GROUP, "paced")
            clock[0] += 1

            for chat in range(1, 32):  # people who started a private chat with the bot
                fake.push_group_message(chat, "/start", {"id": chat, "first_name": f"p{chat}"})
            for chat in range(1, 31):
                await limited.send_message(chat, "private burst")
            with pytest.raises(RetryAfter, match="Retry in 1 seconds"):
                await limited.send_message(31, "31st in one second")
            clock[0] += 1
            await limited.send_message(31, "next second")
    assert len(fake.sent) == 19 + 1 + 30 + 1
    assert fake.flood_refusals == [
        (1_700_000_010.0, GROUP),
        (1_700_000_010.0, GROUP),
        (1_700_000_061.0, 31),
    ]


async def test_a_bot_cannot_write_first_to_a_person(fake: FakeTelegram, bot: Bot) -> None:
    with pytest.raises(Forbidden, match="bot can't initiate conversation with a user"):
        await bot.send_message(4242, "hello")
    fake.push_group_message(4242, "/start", {"id": 4242, "first_name": "Ayşe"})
    assert (await bot.send_message(4242, "hello")).chat.id == 4242


async def test_fault_knobs(fake: FakeTelegram, bot: Bot) -> None:
    fake.fail_next(500)
    with pytest.raises(NetworkError, match="Internal Server Error"):
        await bot.send_message(GROUP, "x")
    fake.rate_limit_next(7)
    with pytest.raises(RetryAfter, match="Retry in 7 seconds"):
        await bot.send_message(GROUP, "x")
    fake.set_down(True)
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.get_me()
    fake.set_down(False)
    fake.drop_next_connection()
    with pytest.raises(NetworkError):
        await bot.send_message(GROUP, "x")
    fake.malformed_next()
    with pytest.raises(PTBError, match="Invalid server response"):
        await bot.send_message(GROUP, "x")
    await bot.send_message(GROUP, "finally")
    assert [s.status for s in fake.requests][-6:] == [500, 429, 502, 0, 200, 200]
    assert [s.text for s in fake.sent] == ["finally"]


SHARED_FIXTURES = Path(__file__).resolve().parents[3] / "shared/data/telegram/teloxide_fixtures"


@pytest.mark.skipif(not SHARED_FIXTURES.is_dir(), reason="shared/data is not beside the repo")
async def test_push_update_delivers_recorded_payloads(fake: FakeTelegram, bot: Bot) -> None:
    recorded = json.loads(
        (SHARED_FIXTURES / "update_supergroup_bot_command_reply.json").read_text()
    )
    update_id = fake.push_update("message", recorded["message"])
    [update] = await bot.get_updates()
    assert update.update_id == update_id
    assert update.message.text == "/report"
    assert update.message.reply_to_message.story is not None
