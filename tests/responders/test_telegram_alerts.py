"""The Telegram side of alerts without a server: routes, agents, buttons, the flood budget."""

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from core.clock import FakeClock
from core.models import AlertRow, MentionRow, ReplyDraftRow
from core.store import Store
from responders.alert_buttons import keyboard
from responders.flood_budget import FloodBudget
from responders.telegram_config import TelegramConfig
from service.workflow import fill

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def alert(**values: object) -> AlertRow:
    return AlertRow(
        **{
            "id": 7,
            "chat_id": "-100",
            "message_id": 5,
            "created_at": NOW,
            "mention_id": 1,
            **values,
        }
    )


def verbs(rows: tuple) -> list[str]:
    return [verb for row in rows for verb, _data in row]


def test_routes_agents_and_blank_values_from_the_environment() -> None:
    config = TelegramConfig(
        alert_chat_id="-100111", escalation_chat_id="", agents="4242, 4243,", routes={}
    )
    assert config.route("staff").chat_id == -100111  # type: ignore[union-attr]
    assert config.route("escalation") is None
    assert config.agents == [4242, 4243]
    assert config.is_agent(4242) and not config.is_agent(777)
    assert TelegramConfig().is_agent(777)  # no list: anyone in the staff chat
    with pytest.raises(ValidationError):
        TelegramConfig(agents="4242,ana")


def test_buttons_follow_the_state_and_carry_only_verb_and_id() -> None:
    assert verbs(keyboard(alert())) == ["claim", "reply", "esc", "s15", "s60", "resolve", "nr"]
    claimed = keyboard(alert(state="acknowledged", escalated_by="@ben"))
    assert verbs(claimed) == ["reply", "s15", "s60", "resolve", "nr"]
    group = verbs(keyboard(alert(kind="group")))
    assert group == ["claim", "esc", "each", "s15", "s60", "resolve", "nr"]
    assert "reply" not in verbs(keyboard(alert(kind="window", mention_id=None)))
    assert keyboard(alert(state="resolved")) == ()
    assert keyboard(alert(state="not_relevant")) == ()
    replying = keyboard(alert(replying_id="4242"), saved=2)
    assert [data for row in replying for _verb, data in row] == [
        "saved:7:0",
        "saved:7:1",
        "noreply:7",
    ]
    draft = ReplyDraftRow(id=99, alert_id=7, text="hi", user_id="4242", created_at=NOW)
    assert keyboard(alert(), draft) == ((("send", "send:99"), ("cancel", "cancel:99")),)
    longest = f"saved:{2**63}:{99}"
    assert len(longest.encode()) <= 64


async def test_flood_budget_counts_the_last_minute_per_chat(tmp_path: Path) -> None:
    clock = FakeClock(NOW)
    store = await asyncio.to_thread(Store.open, f"sqlite:///{tmp_path / 'budget.db'}")
    budget = FloodBudget(clock, store, per_minute=3)
    for _ in range(3):
        assert await budget.take(-100)
        clock.advance(10)
    assert not await budget.take(-100)  # full: not sent, not counted
    assert await budget.take(-200)
    assert budget.left(-100) == 0
    assert budget.left("-200") == 2  # chats are counted apart, whatever the id's type
    assert budget.next_free(-100) == NOW + timedelta(minutes=1)
    clock.advance(timedelta(seconds=30))  # the first call is a minute old
    assert budget.left(-100) == 1
    assert budget.busiest_minute(-100) == 2
    await asyncio.to_thread(store.close)


async def test_a_node_sees_the_sends_of_another_once_it_refreshes(tmp_path: Path) -> None:
    clock = FakeClock(NOW)
    store = await asyncio.to_thread(Store.open, f"sqlite:///{tmp_path / 'budget.db'}")
    first, second = FloodBudget(clock, store, per_minute=3), FloodBudget(clock, store, 3)
    for _ in range(2):
        assert await first.take(-100)
    assert second.left(-100) == 3  # planning answers from what it last read
    await second.refresh([-100])
    assert second.left(-100) == 1
    assert await second.take(-100)
    assert not await first.take(-100)  # the room went to the other node
    assert first.left(-100) == 0  # and the refusal told it so
    await asyncio.to_thread(store.close)


def test_saved_replies_fill_author_and_platform_only() -> None:
    on_x = MentionRow(
        platform="x", external_id="1", author_handle="ana", created_at=NOW, fetched_at=NOW
    )
    on_reddit = MentionRow(
        platform="reddit", external_id="t3_1", author_handle="bob", created_at=NOW, fetched_at=NOW
    )
    template = "Hi {author}, thanks for writing on {platform}. {rule} {0}"
    assert fill(template, on_x) == "Hi @ana, thanks for writing on X. {rule} {0}"
    assert fill(template, on_reddit) == "Hi bob, thanks for writing on Reddit. {rule} {0}"
