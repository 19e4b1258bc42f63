"""Noise control: grouping, re-alert back-off, silences, inhibition, the flood budget, a storm."""

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from core.clock import FakeClock
from rules.windows import WindowAlert
from sandbox.telegram_api import FakeTelegram
from service.app import BrandPulse
from service.config import AppConfig
from tests.conftest import STAFF_CHAT
from tests.service.alerting import (
    AGENT,
    counting_calls,
    ingest,
    mention,
    press,
    staff_app,
    staff_messages,
    step,
)

NEGATIVE = "@AcmeSupport this is the worst, I hate you all ({n})"  # clearly-negative
LOGIN = "@AcmeSupport app down again?? {n} still cannot log in"  # needs-response


def alerts_in(fake: FakeTelegram) -> list[dict[str, Any]]:
    """Alert messages, without the notes (SLA warnings, command answers) replying to them."""
    return [m for m in staff_messages(fake) if not m.get("reply_to_message")]


def counted_in(text: str) -> int:
    found = re.search(r"🔥 ([\d,]+) mentions", text)
    assert found, text
    return int(found.group(1).replace(",", ""))


def alertmanager_style(config: AppConfig) -> AppConfig:
    """A brand that wants a rule's burst folded early: `group_after: 3`, `group_window: 5m`."""
    alerts = config.alerts.model_copy(
        update={
            "group_after": 3,
            "group_window": timedelta(minutes=5),
            "edit_every": timedelta(seconds=20),
        }
    )
    return config.model_copy(update={"alerts": alerts})


async def test_a_burst_of_one_rule_becomes_one_alert_with_a_count_and_samples(
    fake_telegram: FakeTelegram, sandbox_config: Callable[..., AppConfig]
) -> None:
    clock = FakeClock()
    app = staff_app(sandbox_config, clock, update=alertmanager_style)
    ingest(app, *(mention(n, clock, followers=n * 1000) for n in range(10)))
    await step(app)

    messages = staff_messages(fake_telegram)
    assert len(messages) == 4  # group_after: 3 single alerts, then one for the rest
    group = messages[3]["text"]
    assert counted_in(group) == 7
    assert "matched refunds-and-legal" in group
    samples = [line for line in group.splitlines() if line.startswith("• ")]
    assert len(samples) == 7  # all of them, compactly: urgency, author, first words
    assert samples[0].startswith("• 100 · @customer9: @AcmeSupport order 9 arrived broken")
    assert "Show each" in group
    deliveries = sorted(a.delivery for a in app.store.alerts())
    assert deliveries == ["grouped"] * 6 + ["sent"] * 4

    clock.advance(5)
    ingest(app, *(mention(n, clock) for n in range(10, 15)))
    await step(app)
    assert len(staff_messages(fake_telegram)) == 4  # no new message, …
    assert counted_in(staff_messages(fake_telegram)[3]["text"]) == 7  # … and no edit before 20s
    clock.advance(20)
    await step(app)
    assert counted_in(staff_messages(fake_telegram)[3]["text"]) == 12

    press(fake_telegram, staff_messages(fake_telegram)[3], "nr")
    await step(app)
    flagged = [m for m in app.store.mentions() if m.feedback == "not_relevant"]
    assert len(flagged) == 12  # every mention the group stood for


async def test_the_same_author_is_counted_in_the_open_alert_with_a_doubling_back_off(
    fake_telegram: FakeTelegram, sandbox_config: Callable[..., AppConfig]
) -> None:
    clock = FakeClock()
    app = staff_app(sandbox_config, clock)

    async def again(n: int, after: timedelta) -> None:
        clock.advance(after)
        ingest(app, mention(n, clock, author="angry_ana"))
        await step(app)

    await again(1, timedelta(0))
    await again(2, timedelta(minutes=1))  # within 10m: counted in the first alert
    assert len(alerts_in(fake_telegram)) == 1
    await again(3, timedelta(minutes=10))  # 11m after the first: a new alert
    await again(4, timedelta(minutes=15))  # within 2 × 10m of the second: counted there
    await again(5, timedelta(minutes=6))  # 21m after the second: a third alert
    first, second, third = alerts_in(fake_telegram)
    assert "➕ 1 more mention by this author since, counted here" in first["text"]
    assert "order 3 arrived" in second["text"]
    assert "order 5 arrived" in third["text"]
    assert [a.delivery for a in app.store.alerts()] == ["sent", "repeat", "sent", "repeat", "sent"]

    press(fake_telegram, third, "resolve")
    await step(app)
    await again(6, timedelta(minutes=1))  # the last alert is closed: this is new work
    assert len(alerts_in(fake_telegram)) == 4


async def test_muted_rules_are_counted_and_the_next_alert_says_how_many(
    fake_telegram: FakeTelegram, sandbox_config: Callable[..., AppConfig]
) -> None:
    clock = FakeClock()
    app = staff_app(sandbox_config, clock)
    fake_telegram.push_group_message(STAFF_CHAT, "/mute refunds-and-legal 30m", from_user=AGENT)
    await step(app)
    ingest(app, mention(1, clock), mention(2, clock))
    await step(app)
    assert len(staff_messages(fake_telegram)) == 1  # only the /mute confirmation
    assert [a.delivery for a in app.store.alerts()] == ["muted", "muted"]

    clock.advance(timedelta(minutes=30))  # the silence expires by itself
    ingest(app, mention(3, clock))
    await step(app)
    alert = staff_messages(fake_telegram)[-1]["text"]
    assert "order 3 arrived" in alert
    assert "🔕 2 suppressed since the last alert" in alert


async def test_an_open_spike_alert_holds_back_the_pings_of_its_rules(
    fake_telegram: FakeTelegram, sandbox_config: Callable[..., AppConfig]
) -> None:
    clock = FakeClock()
    app = staff_app(sandbox_config, clock)
    await step(app)
    assert app.alert_responder is not None and app.telegram is not None
    spike = WindowAlert(
        rule="refund-surge",
        kind="spike",
        route="staff",
        key="refund-surge@1",
        message="Spike: 40 mentions in the last 10 min, none in the 12 h before",
        count=40,
    )
    async with app.telegram:
        inhibits = {"refund-surge": ["refunds-and-legal"]}
        assert await app.alert_responder.raise_windows([spike], inhibits)
        assert not await app.alert_responder.raise_windows([spike], {})  # once per episode
    ingest(app, mention(1, clock), mention(2, clock), mention(3, clock, text=NEGATIVE))
    await step(app)
    window, negative = staff_messages(fake_telegram)
    assert "🚨 <b>refund-surge</b>" not in window["text"]  # parsed by Telegram: plain text
    assert window["text"].startswith("🚨 refund-surge: Spike: 40 mentions")
    assert "(3)" in negative["text"]  # another rule is not held back
    assert "🔕 2 suppressed since the last alert" in negative["text"]

    clock.advance(20)
    await step(app)
    assert (
        "2 per-mention alerts of its rules were held back"
        in staff_messages(fake_telegram)[0]["text"]
    )
    press(fake_telegram, staff_messages(fake_telegram)[0], "resolve")
    await step(app)
    ingest(app, mention(4, clock))
    await step(app)
    assert "order 4 arrived" in staff_messages(fake_telegram)[-1]["text"]


async def test_near_the_chat_limit_new_alerts_share_one_message(
    fake_telegram: FakeTelegram, sandbox_config: Callable[..., AppConfig]
) -> None:
    clock = FakeClock()
    app = staff_app(sandbox_config, clock)
    for _ in range(app.budget.per_minute - 4):  # another node used the minute's messages
        app.store.spend_telegram(str(STAFF_CHAT), clock.now(), None)
    ingest(app, mention(1, clock), mention(2, clock, text=NEGATIVE), mention(3, clock, text=LOGIN))
    await step(app)
    [overflow] = staff_messages(fake_telegram)
    assert counted_in(overflow["text"]) == 3
    assert "came faster than this chat can take" in overflow["text"]


def busiest_minute(times: list[datetime]) -> int:
    ordered = sorted(times)
    return max(
        (
            sum(1 for t in ordered[i:] if t < start + timedelta(minutes=1))
            for i, start in enumerate(ordered)
        ),
        default=0,
    )


async def test_a_storm_of_5000_mentions_in_a_minute_stays_within_telegram_limits(
    fake_telegram: FakeTelegram, sandbox_config: Callable[..., AppConfig]
) -> None:
    clock = FakeClock()
    fake_telegram.enforce_limits = True  # 429 on > 30 msg/s or > 20 msg/min into a group
    fake_telegram.set_clock(lambda: clock.now().timestamp())
    app = staff_app(sandbox_config, clock)
    calls = counting_calls(app, clock)  # every send and edit into the staff chat
    texts = (mention.__defaults__[0], NEGATIVE, LOGIN)  # type: ignore[index]
    assert app.telegram is not None
    storm = 5000
    async with app.telegram:
        for second in range(0, 60, 5):  # 12 polls, 5 s apart, about 417 mentions each
            batch = range(storm * second // 60, storm * (second + 5) // 60)
            ingest(app, *(mention(n, clock, text=texts[n % 3]) for n in batch))
            await app.deliver()
            clock.advance(5)
        clock.advance(60)  # the next minute: counts still waiting are edited in
        await app.deliver()
    report = await storm_figures(app, fake_telegram, calls)
    print(f"\nstorm: {report}")
    assert report["mentions"] == storm
    assert report["429s"] == 0
    assert report["max_sends_per_minute"] <= 20
    assert report["max_calls_per_minute"] <= app.budget.per_minute
    assert report["counted"] == storm  # each mention counted in exactly one alert message
    assert report["shown"] == storm  # and the messages, as Telegram shows them, say so
    assert report["messages"] <= 12


async def storm_figures(
    app: BrandPulse, fake_telegram: FakeTelegram, calls: list[datetime]
) -> dict[str, int]:
    alerts = app.store.alerts()
    actions = [o for o in app.store.outbox() if o.kind == "alert"]
    assert {o.state for o in actions} == {"sent"}
    assert sorted(a.outbox_id for a in alerts) == sorted(o.id for o in actions)
    owners = [a for a in alerts if a.delivery == "sent"]
    messages = staff_messages(fake_telegram)
    shown = 0
    for message in messages:
        text = message["text"]
        shown += counted_in(text) if text.startswith("🔥") else 1
    sends = [datetime.fromtimestamp(m["date"]).astimezone() for m in messages]
    return {
        "mentions": app.store.count_mentions(),
        "messages": len(messages),
        "edits": len(calls) - len(messages),
        "max_sends_per_minute": busiest_minute(sends),
        "max_calls_per_minute": busiest_minute(calls),
        "429s": sum(1 for r in fake_telegram.requests if r.status == 429),
        "counted": sum(a.count for a in owners),
        "shown": shown,
    }
