"""An agent's reply, from the Reply button in Telegram to a reply tweet on X, posted once."""

from collections.abc import Callable

from sandbox.telegram_api import FakeTelegram
from sandbox.x_api import FakeXApi
from service.app import BrandPulse
from service.config import AppConfig
from tests.service.alerting import AGENT, buttons, press, staff_messages


async def test_the_agent_reply_is_posted_on_x_in_reply_to_the_mention(
    fake_x: FakeXApi, fake_telegram: FakeTelegram, sandbox_config: Callable[..., AppConfig]
) -> None:
    config = sandbox_config(
        TELEGRAM_AGENT_IDS="4242",
        X_CONSUMER_KEY=fake_x.consumer_key,
        X_CONSUMER_SECRET="secret",
        X_ACCESS_TOKEN=fake_x.access_token,
        X_ACCESS_TOKEN_SECRET="secret",
    )
    tweet_id = fake_x.post_tweet("@AcmeSupport my order arrived broken, refund please", "maria")
    app = BrandPulse(config)
    await app.run_once()
    [alert] = staff_messages(fake_telegram)

    press(fake_telegram, alert, "reply")
    await app.run_once()
    fake_telegram.push_reply(
        -1001234567890, alert["message_id"], "So sorry! Check your DMs.", AGENT
    )
    await app.run_once()
    [draft] = [m for m in staff_messages(fake_telegram) if m["message_id"] == alert["message_id"]]
    send = buttons(draft)["send"]
    press(fake_telegram, draft, "send")
    fake_telegram.press_button(-1001234567890, alert["message_id"], send, from_user=AGENT)
    await app.run_once()
    await BrandPulse(config).run_once()

    [posted] = fake_x.posted
    assert posted.text == "So sorry! Check your DMs."
    assert posted.in_reply_to_tweet_id == tweet_id
    [row] = app.store.alerts()
    assert row.answered_by == "@ayse_support"
