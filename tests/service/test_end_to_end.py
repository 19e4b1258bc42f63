"""The whole service in-process: fake X → rules → fake Telegram, through the shipped config.yaml."""

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sandbox.telegram_api import FakeTelegram
from sandbox.x_api import FakeXApi
from service.app import BrandPulse
from service.config import AppConfig
from tests.conftest import STAFF_CHAT

ANGRY = "@AcmeSupport my order arrived broken and nobody answers. I want a refund!"
NEUTRAL = "@AcmeSupport what time does the Berlin store open on Saturday"


def alerts_in(fake_telegram: FakeTelegram) -> list[str]:
    return [m.text for m in fake_telegram.sent if m.chat_id == STAFF_CHAT]


async def test_negative_mention_alerts_staff_once_and_neutral_does_not(
    fake_x: FakeXApi, fake_telegram: FakeTelegram, sandbox_config: Callable[..., AppConfig]
) -> None:
    fake_x.post_tweet(ANGRY, "angry_customer", followers=48_000)
    fake_x.post_tweet("@AcmeSupport thanks, all good now!", "happy_customer")
    fake_x.post_tweet(NEUTRAL, "curious_customer")
    app = BrandPulse(sandbox_config())

    summary = await app.run_once()

    assert summary.fetched == 3
    texts = alerts_in(fake_telegram)
    assert len(texts) == 1, texts
    alert = fake_telegram.sent[0]
    assert "angry_customer" in alert.text
    assert "refund" in alert.text
    assert "48,000 followers" in alert.text
    assert alert.parse_mode == "HTML"
    buttons = [b["callback_data"] for row in alert.reply_markup["inline_keyboard"] for b in row]
    assert [b.split(":")[0] for b in buttons] == [
        "claim",
        "reply",
        "esc",
        "s15",
        "s60",
        "resolve",
        "nr",
    ]

    mention_calls = len(fake_x.calls("/2/users/1570000000000000001/mentions"))
    again = await BrandPulse(sandbox_config()).run_once()
    assert again.fetched == 0
    assert again.new == 0
    assert len(alerts_in(fake_telegram)) == 1
    second_call = fake_x.calls("/2/users/1570000000000000001/mentions")[mention_calls]
    assert second_call.query["since_id"]


async def test_polled_twice_nothing_is_sent_twice_even_if_the_cursor_is_lost(
    fake_x: FakeXApi, fake_telegram: FakeTelegram, sandbox_config: Callable[..., AppConfig]
) -> None:
    fake_x.post_tweet(ANGRY, "angry_customer")
    app = BrandPulse(sandbox_config())
    await app.run_once()
    with app.store.engine.begin() as connection:
        connection.exec_driver_sql("DELETE FROM cursor")
    summary = await BrandPulse(sandbox_config()).run_once()
    assert summary.fetched == 1  # fetched again: the cursor is gone …
    assert summary.new == 0  # … but the unique key knows it
    assert len(alerts_in(fake_telegram)) == 1


async def test_rate_limit_delays_the_next_poll_until_reset(
    fake_x: FakeXApi, fake_telegram: FakeTelegram, sandbox_config: Callable[..., AppConfig]
) -> None:
    app = BrandPulse(sandbox_config())
    await app.run_once()  # resolves the account id
    fake_x.rate_limit_next(90)
    poller = app.pollers[0]
    poller.next_at = None
    before = datetime.now(UTC)

    assert await poller.poll() is None

    assert poller.next_at is not None
    assert poller.next_at >= before + timedelta(seconds=85)
    requests_made = len(fake_x.requests)
    assert await poller.poll() is None  # still waiting: no request at all
    assert len(fake_x.requests) == requests_made


async def test_hostile_text_is_escaped_and_cut(
    fake_x: FakeXApi, fake_telegram: FakeTelegram, sandbox_config: Callable[..., AppConfig]
) -> None:
    hostile = (
        "@AcmeSupport <b>refund</b> & <a href='javascript:alert(1)'>x</a> *bold* _it_ "
        "\u202eevil\u202c 😡👎🏽 " + "broken " * 800
    )
    fake_x.post_tweet(hostile, "<script>", followers=10)
    await BrandPulse(sandbox_config()).run_once()

    [alert] = alerts_in(fake_telegram)
    assert "&lt;b&gt;refund&lt;/b&gt; &amp; &lt;a href='javascript:alert(1)'&gt;" in alert
    assert "\u202e" not in alert
    assert "😡👎🏽" in alert
    assert len(alert) < 4096
    assert "…" in alert  # cut, not rejected by Telegram
    # The fake parses the HTML as Telegram would: the user's markup arrives as literal text.
    [shown] = fake_telegram.messages(STAFF_CHAT)
    assert "<b>refund</b> & <a href='javascript:alert(1)'>x</a>" in shown["text"]
    assert "@<script>" in shown["text"]
    links = [e.get("url", "") for e in shown.get("entities", []) if e["type"] == "text_link"]
    assert all(link.startswith("https://x.com/") for link in links)


async def test_buttons_are_recorded_and_the_alert_is_edited_in_place(
    fake_x: FakeXApi, fake_telegram: FakeTelegram, sandbox_config: Callable[..., AppConfig]
) -> None:
    fake_x.post_tweet(ANGRY, "angry_customer")
    app = BrandPulse(sandbox_config())
    await app.run_once()
    alert = fake_telegram.sent[0]
    buttons = [b["callback_data"] for r in alert.reply_markup["inline_keyboard"] for b in r]
    claim, resolve = buttons[0], buttons[5]
    agent = {"id": 4242, "first_name": "Ayşe", "username": "ayse_support", "is_bot": False}

    fake_telegram.press_button(STAFF_CHAT, alert.message_id, claim, from_user=agent)
    await BrandPulse(sandbox_config()).run_once()

    [row] = app.store.alerts()
    assert row.state == "acknowledged"
    assert row.acknowledged_by == "@ayse_support"
    [shown] = fake_telegram.messages(STAFF_CHAT)
    assert "Claimed by @ayse_support" in shown["text"]
    remaining = [b["callback_data"] for r in shown["reply_markup"]["inline_keyboard"] for b in r]
    assert claim not in remaining
    assert resolve in remaining
    assert fake_telegram.answered_callbacks

    fake_telegram.press_button(STAFF_CHAT, alert.message_id, resolve, from_user=agent)
    await BrandPulse(sandbox_config()).run_once()
    [row] = app.store.alerts()
    assert row.state == "resolved"
    assert [a.action for a in app.store.agent_actions(row.id or 0)] == ["claim", "resolve"]
    assert "reply_markup" not in fake_telegram.messages(STAFF_CHAT)[0]


async def test_alerts_wait_while_telegram_is_down_and_go_out_in_order(
    fake_x: FakeXApi, fake_telegram: FakeTelegram, sandbox_config: Callable[..., AppConfig]
) -> None:
    for n in range(3):
        fake_x.post_tweet(f"@AcmeSupport order {n} arrived broken, refund please", f"c{n}")
    fake_telegram.set_down(True)
    app = BrandPulse(sandbox_config())
    await app.run_once()
    assert not fake_telegram.sent
    assert len(app.store.outbox("pending")) == 3

    fake_telegram.set_down(False)
    await _deliver_now(app)

    texts = alerts_in(fake_telegram)
    assert [text.split("order ")[1][0] for text in texts] == ["0", "1", "2"]
    assert not app.store.outbox("pending")


async def _deliver_now(app: BrandPulse) -> None:
    """Skip the retry wait: make every pending action due and lift the channel pause."""
    assert app.telegram is not None
    app.outbox.paused_until.clear()
    with app.store.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE outbox SET not_before = '2000-01-01 00:00:00'")
    async with app.telegram:
        await app.deliver()


async def test_the_long_running_service_polls_alerts_and_answers_buttons(
    fake_x: FakeXApi, fake_telegram: FakeTelegram, sandbox_config: Callable[..., AppConfig]
) -> None:
    app = BrandPulse(sandbox_config(X_POLL_EVERY="1s"))
    stop = asyncio.Event()
    service = asyncio.create_task(app.run(stop))
    try:
        fake_x.post_tweet(ANGRY, "angry_customer")
        # An alert row is written just before its message goes out: wait for the message.
        await _until(lambda: [a.message_id > 0 for a in app.store.alerts()] == [True])
        alert = fake_telegram.sent[0]
        claim = alert.reply_markup["inline_keyboard"][0][0]["callback_data"]
        fake_telegram.press_button(STAFF_CHAT, alert.message_id, claim)
        await _until(lambda: [a.state for a in app.store.alerts()] == ["acknowledged"])
    finally:
        stop.set()
        await asyncio.wait_for(service, 10)


async def _until(condition: Callable[[], bool], timeout: float = 10) -> None:
    """Await a condition the running service makes true (an event, not a fixed sleep)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def test_the_brands_name_does_not_hide_its_customers_complaints(
    fake_x: FakeXApi, fake_telegram: FakeTelegram, sandbox_config: Callable[..., AppConfig]
) -> None:
    """The node tells triage the brand's name: the shipped model's weight for "microsoft"
    kept a Microsoft customer's crash report below the alert threshold (18 of 30)."""
    fake_x.post_tweet("@AcmeSupport Microsoft Teams keeps crashing", "it_admin")
    app = BrandPulse(sandbox_config(BRAND_NAME="Microsoft"))
    await app.run_once()
    [alert] = alerts_in(fake_telegram)
    assert "it_admin" in alert and "crash" in alert
