"""`/web` in Telegram: a one-time console login link, only ever in the agent's private chat."""

from collections.abc import Callable

from core.clock import FakeClock
from core.web_logins import Login, WebLogins
from sandbox.telegram_api import FakeTelegram
from service.app import BrandPulse
from service.config import AppConfig
from tests.conftest import STAFF_CHAT
from tests.service.alerting import AGENT, STRANGER, staff_app, step


def bot_texts(fake: FakeTelegram, chat: int) -> list[str]:
    return [m["text"] for m in fake.messages(chat) if m["from"]["is_bot"]]


def token_in(text: str) -> str:
    return text.split("token=")[1].split()[0]


async def test_web_in_a_private_chat_answers_with_a_one_time_link(
    fake_telegram: FakeTelegram, sandbox_config: Callable[..., AppConfig]
) -> None:
    clock = FakeClock()
    app = staff_app(sandbox_config, clock, BRANDPULSE_WEB_URL="https://inbox.example.com")
    fake_telegram.push_group_message(AGENT["id"], "/web", from_user=AGENT)
    await step(app)

    [answer] = bot_texts(fake_telegram, AGENT["id"])
    assert "https://inbox.example.com/login?token=" in answer
    logins = WebLogins(app.store.engine)
    token = token_in(answer)
    assert logins.redeem(token, clock.now()) == Login("agent", "4242", "@ayse_support")
    assert isinstance(logins.redeem(token, clock.now()), str)  # once only


async def test_web_asked_in_the_staff_group_goes_to_the_private_chat(
    fake_telegram: FakeTelegram, sandbox_config: Callable[..., AppConfig]
) -> None:
    app = staff_app(sandbox_config, FakeClock())
    fake_telegram.push_group_message(AGENT["id"], "/start", from_user=AGENT)  # chat started
    fake_telegram.push_group_message(STAFF_CHAT, "/web", from_user=AGENT)
    await step(app)

    group = bot_texts(fake_telegram, STAFF_CHAT)
    assert group == ["I sent you a login link in our private chat."]
    [private] = bot_texts(fake_telegram, AGENT["id"])
    assert "/login?token=" in private


async def test_web_in_a_group_never_posts_the_link_there(
    fake_telegram: FakeTelegram, sandbox_config: Callable[..., AppConfig]
) -> None:
    app = staff_app(sandbox_config, FakeClock())
    fake_telegram.push_group_message(STAFF_CHAT, "/web", from_user=AGENT)  # never wrote to the bot
    await step(app)

    [answer] = bot_texts(fake_telegram, STAFF_CHAT)
    assert "open a private chat with me, press Start" in answer
    assert "token=" not in answer
    assert all("token=" not in sent.text for sent in fake_telegram.sent)


async def test_web_refuses_people_who_are_not_agents(
    fake_telegram: FakeTelegram, sandbox_config: Callable[..., AppConfig]
) -> None:
    app = staff_app(sandbox_config, FakeClock())
    fake_telegram.push_group_message(STRANGER["id"], "/web", from_user=STRANGER)
    await step(app)

    [answer] = bot_texts(fake_telegram, STRANGER["id"])
    assert answer == "Sorry, only the support team's agents can act on alerts."
    assert all("token=" not in sent.text for sent in fake_telegram.sent)


async def test_web_gives_no_links_without_an_agent_list(
    fake_telegram: FakeTelegram, sandbox_config: Callable[..., AppConfig]
) -> None:
    app = BrandPulse(sandbox_config(TELEGRAM_AGENT_IDS=""), clock=FakeClock())
    fake_telegram.push_group_message(STRANGER["id"], "/web", from_user=STRANGER)
    await step(app)

    [answer] = bot_texts(fake_telegram, STRANGER["id"])
    assert "TELEGRAM_AGENT_IDS" in answer and "token=" not in answer
