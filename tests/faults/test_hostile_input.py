"""Hostile mention texts and malformed API payloads: no crash, nothing else lost, safe alerts.

On PostgreSQL a NUL character or an unpaired surrogate in one mention used to fail the whole
batch's transaction, and so the source, forever; these cases run on both backends.
"""

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from core.clock import FakeClock
from sandbox.telegram_api import FakeTelegram
from sandbox.x_api import FakeXApi
from service.app import BrandPulse
from service.config import AppConfig
from tests.conftest import STAFF_CHAT

ANGRY = "@AcmeSupport refund now, my order arrived broken"
HOSTILE = {
    "huge": ANGRY + " broken" * 20_000,
    "control": ANGRY + " \x00\x01\x07\x1b[31mred\x1b[0m\r\n\x7f\x9b",
    "html": ANGRY + ' </b><a href="tg://user?id=1">agent</a><script>x</script> &amp; <i',
    "markdown": ANGRY + " *bold* _it_ [link](http://evil.example) `code` ~~s~~ ||spoiler||",
    "zero_width": ANGRY + " re\u200bfu\u200cnd\u200d \ufeff\u2060 hidden",
    "rtl": ANGRY + " \u202egnp.exe\u202c \u2067isolate\u2069 \u200fmark",
    "surrogate": ANGRY + " half an emoji: \ud83d and \udca9",
    "emoji": ANGRY + " 😡👎🏽🇹🇷 👨‍👩‍👧",
}


def service(config: AppConfig) -> BrandPulse:
    alerts = config.alerts.model_copy(update={"group_after": 100, "max_per_minute": 20})
    clock = FakeClock(datetime.now(UTC))
    return BrandPulse(config.model_copy(update={"alerts": alerts}), clock=clock)


async def deliver_all(app: BrandPulse) -> None:
    assert app.telegram is not None and isinstance(app.clock, FakeClock)
    async with app.telegram:
        for _ in range(10):  # the flood budget may hold some back for a minute
            await app.deliver()
            if not app.store.outbox("pending"):
                return
            app.clock.advance(timedelta(minutes=1))


async def test_hostile_texts_are_stored_and_alerted_safely(
    fake_x: FakeXApi, fake_telegram: FakeTelegram, sandbox_config: Callable[..., AppConfig]
) -> None:
    for name, text in HOSTILE.items():
        fake_x.post_tweet(text, f"author_{name}")
    app = service(sandbox_config())

    [poller] = app.pollers
    assert await poller.poll() is not None
    await deliver_all(app)

    stored = {m.author_handle: m.text for m in app.store.mentions()}
    assert set(stored) == {f"author_{name}" for name in HOSTILE}
    assert all("\x00" not in text for text in stored.values())
    assert "\ufffd" in stored["author_surrogate"]
    assert len(stored["author_huge"]) == len(HOSTILE["huge"])  # kept whole; only alerts are cut
    messages = fake_telegram.messages(STAFF_CHAT)
    assert len(messages) == len(HOSTILE)  # the fake parses HTML as Telegram does: none refused
    for message in messages:
        shown = message["text"]
        assert len(shown) <= 4096
        assert not any(c in shown for c in "\x00\x1b\u202e\u2067")
        links = [e.get("url", "") for e in message.get("entities", []) if e["type"] == "text_link"]
        assert all(link.startswith("https://x.com/") for link in links), links
    html = next(m["text"] for m in messages if "author_html" in m["text"])
    assert '<a href="tg://user?id=1">agent</a><script>' in html  # literal text, not markup


async def test_malformed_items_are_skipped_and_the_rest_of_the_batch_kept(
    fake_x: FakeXApi, fake_telegram: FakeTelegram, sandbox_config: Callable[..., AppConfig]
) -> None:
    app = service(sandbox_config())
    [poller] = app.pollers
    assert await poller.poll() is not None  # resolves the account and sets the cursor
    good = {"id": "1900000000000000001", "text": ANGRY, "author_id": "42"}
    page = {
        "data": [
            good,
            {"text": "no id at all"},
            {"id": "1900000000000000002", "text": 12345},
            {"id": "not-a-number", "text": "bad id"},
            {"id": "1900000000000000003", "text": "bad time", "created_at": "yesterday"},
            "not even an object",
            None,
            {"id": "1900000000000000004", "text": ANGRY + " from nobody", "author_id": "404"},
        ],
        "includes": {"users": [{"id": "42", "username": "real_customer"}, "junk", {}]},
        "meta": {"result_count": 8, "newest_id": "1900000000000000004"},
    }
    fake_x.fail_next(200, body=page)
    poller.next_at = None

    result = await poller.poll()

    assert result is not None
    stored = sorted(m.external_id for m in app.store.mentions())
    assert stored == ["1900000000000000001", "1900000000000000004"]
    await deliver_all(app)
    assert len(fake_telegram.messages(STAFF_CHAT)) == 2


async def test_invalid_utf8_in_a_payload_becomes_replacement_characters(
    fake_x: FakeXApi, fake_telegram: FakeTelegram, sandbox_config: Callable[..., AppConfig]
) -> None:
    app = service(sandbox_config())
    [poller] = app.pollers
    assert await poller.poll() is not None
    tweet = {"id": "1900000000000000009", "text": "TEXT", "author_id": "42"}
    body = json.dumps(
        {"data": [tweet], "meta": {"result_count": 1, "newest_id": tweet["id"]}}
    ).encode()
    fake_x.raw_next(body.replace(b"TEXT", ANGRY.encode() + b" \xff\xfe\xc3( bytes"))
    poller.next_at = None

    assert await poller.poll() is not None

    [mention] = app.store.mentions()
    assert mention.text.startswith(ANGRY) and "\ufffd" in mention.text
    await deliver_all(app)
    assert len(fake_telegram.messages(STAFF_CHAT)) == 1
