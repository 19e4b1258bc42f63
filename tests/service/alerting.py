"""Helpers for the staff-chat tests: the service on a fake clock, mentions pushed straight into
the pipeline, and the staff chat as the fake Telegram shows it."""

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from core.clock import FakeClock
from core.mention import Mention
from listeners.base import Batch
from sandbox.telegram_api import FakeTelegram, make_user
from service.app import BrandPulse
from service.config import AppConfig
from tests.conftest import STAFF_CHAT

ESCALATION_CHAT = -1009876543210
AGENT = make_user(4242, "Ayşe", "ayse_support")
OTHER_AGENT = make_user(4243, "Ben", "ben_support")
STRANGER = make_user(777, "Mallory", "mallory")
ANGRY = "@AcmeSupport order {n} arrived broken and nobody answers. I want a refund!"


def staff_app(
    sandbox_config: Callable[..., AppConfig],
    clock: FakeClock,
    update: Callable[[AppConfig], AppConfig] | None = None,
    **env: str,
) -> BrandPulse:
    """The shipped config with agents and an escalation chat, on `clock`."""
    config = sandbox_config(
        TELEGRAM_AGENT_IDS="4242,4243",
        TELEGRAM_ESCALATION_CHAT_ID=str(ESCALATION_CHAT),
        **env,
    )
    return BrandPulse(update(config) if update else config, clock=clock)


def mention(
    n: int,
    clock: FakeClock,
    text: str = ANGRY,
    author: str = "",
    followers: int = 0,
    ago: timedelta = timedelta(0),
) -> Mention:
    author = author or f"customer{n}"
    return Mention(
        platform="x",
        external_id=str(1_900_000_000_000_000_000 + n),
        text=text.format(n=n),
        created_at=clock.now() - ago,
        source="x:mentions",
        url=f"https://x.com/{author}/status/{1_900_000_000_000_000_000 + n}",
        author_id=f"id-{author}",
        author_handle=author,
        author_followers=followers,
    )


def ingest(app: BrandPulse, *mentions: Mention) -> None:
    app.pipeline.ingest("x:mentions", Batch(list(mentions), None), app.clock.now())


async def step(app: BrandPulse) -> None:
    """What the running service does each second: buttons and commands, deliveries, the SLA."""
    await app.run_once()


def staff_messages(fake: FakeTelegram, chat: int = STAFF_CHAT) -> list[dict[str, Any]]:
    """The bot's messages in `chat` as they read now (after edits)."""
    return [m for m in fake.messages(chat) if m["from"]["is_bot"]]


def buttons(message: dict[str, Any]) -> dict[str, str]:
    """verb → callback data of a message's buttons (the first, for repeated verbs)."""
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    found: dict[str, str] = {}
    for data in (b["callback_data"] for row in rows for b in row):
        found.setdefault(data.split(":")[0], data)
    return found


def press(
    fake: FakeTelegram, message: dict[str, Any], verb: str, user: dict[str, Any] = AGENT
) -> None:
    fake.press_button(STAFF_CHAT, message["message_id"], buttons(message)[verb], from_user=user)


def current(fake: FakeTelegram, message: dict[str, Any]) -> dict[str, Any]:
    [now] = [m for m in fake.messages(STAFF_CHAT) if m["message_id"] == message["message_id"]]
    return now


def counting_calls(app: BrandPulse, clock: FakeClock) -> list[datetime]:
    """Every send and edit into the staff chat, as the budget counts them."""
    calls: list[datetime] = []
    take = app.budget.take

    async def counted(chat: int | str) -> bool:
        spent = await take(chat)
        if spent:
            calls.append(clock.now())
        return spent

    app.budget.take = counted  # type: ignore[method-assign]
    return calls
