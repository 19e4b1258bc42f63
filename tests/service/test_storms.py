"""Only storms fold, and a folded mention is still one tap away and shown within the interval.

The service runs on a fake clock against the fake Telegram (enforcing 20 messages a minute per
group); mentions arrive as a poll every P seconds would hand them over.
"""

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from telegram.ext import AIORateLimiter

from core.clock import FakeClock
from sandbox.telegram_api import FakeTelegram
from service.config import AppConfig
from tests.service.alerting import (
    counting_calls,
    ingest,
    mention,
    press,
    staff_app,
    staff_messages,
    step,
)

POLL = 10  # seconds between polls, as in the measurement
COMPLAINTS = (
    "@AcmeSupport my parcel {n} never arrived and nobody answers, I want a refund!",
    "@AcmeSupport app down again?? account {n} still cannot log in",
    "@AcmeSupport this is the worst, I hate you all ({n})",
)
ORDER = re.compile(r"(?:parcel|account) (\d+)|\((\d+)\)")


def order_in(text: str) -> int | None:
    found = ORDER.search(text)
    return int(found.group(1) or found.group(2)) if found else None


def alert_messages(fake: FakeTelegram) -> list[dict[str, Any]]:
    return [m for m in staff_messages(fake) if not m.get("reply_to_message")]


def busiest_minute(times: list[datetime]) -> int:
    ordered = sorted(times)
    return max(
        (
            sum(1 for t in ordered[i:] if t < start + timedelta(minutes=1))
            for i, start in enumerate(ordered)
        ),
        default=0,
    )


async def test_twelve_customers_in_two_minutes_get_twelve_alerts_each_within_the_interval(
    fake_telegram: FakeTelegram, sandbox_config: Callable[..., AppConfig]
) -> None:
    clock = FakeClock()
    fake_telegram.enforce_limits = True
    fake_telegram.set_clock(lambda: clock.now().timestamp())
    app = staff_app(sandbox_config, clock)
    start = clock.now()
    # 12 angry posts from 12 customers, one every 10 s (the case), at odd offsets.
    posted = {n: start + timedelta(seconds=3 + 10 * n) for n in range(12)}
    waiting = dict(posted)
    while waiting or clock.now() < start + timedelta(minutes=2):
        due = [n for n, at in waiting.items() if at <= clock.now()]
        batch = [
            mention(n, clock, text=COMPLAINTS[n % 2], ago=clock.now() - posted[n]) for n in due
        ]
        for n in due:
            del waiting[n]
        ingest(app, *batch)  # what the poll at this moment hands over
        await step(app)
        clock.advance(POLL)

    alerts = alert_messages(fake_telegram)
    assert len(alerts) == 12  # one alert per customer, nothing folded
    assert all(not m["text"].startswith("🔥") for m in alerts)
    shown = {order_in(m["text"]): m["date"] for m in alerts}
    assert sorted(shown) == list(range(12))
    for n, at in posted.items():
        assert shown[n] - at.timestamp() <= POLL + 1, n
    assert all("claim" in str(m["reply_markup"]) for m in alerts)


async def test_a_storm_of_200_stays_in_budget_and_every_mention_is_one_tap_away(
    fake_telegram: FakeTelegram,
    sandbox_config: Callable[..., AppConfig],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The fake Telegram enforces its limits on the fake clock; PTB's rate limiter underneath
    # would wait them out in real time (3 s a message into a group), so it only retries here.
    monkeypatch.setattr(
        "service.telegram_runtime.AIORateLimiter",
        lambda max_retries: AIORateLimiter(
            overall_max_rate=0, group_max_rate=0, max_retries=max_retries
        ),
    )
    clock = FakeClock()
    fake_telegram.enforce_limits = True  # 429 above 20 messages a minute into a group
    fake_telegram.set_clock(lambda: clock.now().timestamp())
    app = staff_app(sandbox_config, clock)
    calls = counting_calls(app, clock)
    storm = 200
    start = clock.now()
    for poll in range(7):  # polls at 0, 10, … 60 s: 200 mentions over one minute
        batch = range(storm * max(poll - 1, 0) // 6, storm * poll // 6)
        ingest(app, *(mention(n, clock, text=COMPLAINTS[n % 3], followers=n) for n in batch))
        await step(app)
        groups = [m for m in alert_messages(fake_telegram) if m["text"].startswith("🔥")]
        folded = {a.mention_id for a in app.store.alerts() if a.delivery == "grouped"}
        if groups:
            [group] = groups
            count = int(re.search(r"🔥 ([\d,]+) mentions", group["text"]).group(1))  # type: ignore[union-attr]
            # Every mention folded by this poll is counted in the message as it reads now.
            assert count == len(folded) + 1, poll
        clock.advance(POLL)

    alerts = app.store.alerts()
    singles = [a for a in alerts if a.kind == "mention" and a.delivery == "sent"]
    [group_alert] = [a for a in alerts if a.kind == "group"]
    assert len(singles) + group_alert.count == storm  # each mention counted exactly once
    assert len(singles) <= 12  # per-mention alerts only while the rate stayed under 12 a minute
    assert busiest_minute(calls) <= app.budget.per_minute  # sends and edits
    assert not [r for r in fake_telegram.requests if r.status == 429]
    first_minute = [c for c in calls if c < start + timedelta(minutes=1, seconds=1)]
    assert len(first_minute) <= app.budget.per_minute

    # 📋 Show each: every folded mention as an alert of its own, paced, most urgent first.
    [group] = [m for m in alert_messages(fake_telegram) if m["text"].startswith("🔥")]
    before = {m["message_id"] for m in alert_messages(fake_telegram)}
    press(fake_telegram, group, "each")
    await step(app)
    assert app.telegram is not None
    async with app.telegram:  # the outbox passes of the running service, every 6 s
        for _ in range(40 * 60 // 6):  # at most 40 minutes of fake time
            if not [a for a in app.store.alerts() if a.delivery in ("unfolding", "posting")]:
                break
            clock.advance(6)
            await app.deliver()
    assert not [a for a in app.store.alerts() if a.delivery in ("unfolding", "posting")]
    posted = [m for m in alert_messages(fake_telegram) if m["message_id"] not in before]
    folded_ids = {a.mention_id for a in alerts if a.group_id == group_alert.id}
    assert len(posted) == len(folded_ids) == group_alert.count - 1
    by_mention = {m.id: m for m in app.store.mentions()}
    numbers = [order_in(m["text"]) for m in posted]
    assert len(set(numbers)) == len(numbers)  # each exactly once
    expected = sorted(
        folded_ids,
        key=lambda i: (-(by_mention[i].urgency or 0), -by_mention[i].author_followers, i),
    )
    assert numbers == [order_in(by_mention[i].text) for i in expected]  # most urgent first
    assert all("claim:" in str(m["reply_markup"]) for m in posted)
    assert all("reply:" in str(m["reply_markup"]) for m in posted)
    assert busiest_minute(calls) <= app.budget.per_minute
    assert not [r for r in fake_telegram.requests if r.status == 429]
    [group] = [m for m in alert_messages(fake_telegram) if m["text"].startswith("🔥")]
    assert f"📋 {len(posted)} of them posted one by one" in group["text"]
    press(fake_telegram, group, "each")  # tapped again: nothing is posted twice
    await step(app)
    assert len(alert_messages(fake_telegram)) == len(before) + len(posted)

    # A posted one is claimed on its own; claiming the group still works for the incident.
    press(fake_telegram, posted[0], "claim")
    await step(app)
    [group] = [m for m in alert_messages(fake_telegram) if m["text"].startswith("🔥")]
    press(fake_telegram, group, "claim")
    await step(app)
    states = {a.id: a.state for a in app.store.alerts()}
    assert states[group_alert.id] == "acknowledged"
    claimed = [a for a in app.store.alerts() if a.message_id == posted[0]["message_id"]]
    assert [a.state for a in claimed] == ["acknowledged"]


async def test_many_replies_in_one_thread_fold_after_a_few_alerts(
    fake_telegram: FakeTelegram, sandbox_config: Callable[..., AppConfig]
) -> None:
    clock = FakeClock()
    app = staff_app(sandbox_config, clock)
    viral = "1900000000000000999"
    replies = [
        replace(mention(n, clock, text=COMPLAINTS[n % 3]), conversation_id=viral) for n in range(8)
    ]
    ingest(app, *replies)
    await step(app)
    alerts = alert_messages(fake_telegram)
    assert len(alerts) == 4  # same_after: 3 alerts of their own, then one for the thread
    assert "in one thread" in alerts[3]["text"]
    assert re.search(r"🔥 5 mentions", alerts[3]["text"])


async def test_near_identical_texts_fold_but_different_customers_do_not(
    fake_telegram: FakeTelegram, sandbox_config: Callable[..., AppConfig]
) -> None:
    clock = FakeClock()
    app = staff_app(sandbox_config, clock)
    copied = "@AcmeSupport BOYCOTT Acme, they sold my data!!! https://t.co/{n}"
    ingest(app, *(mention(n, clock, text=copied) for n in range(6)))
    ingest(app, *(mention(n, clock, text=COMPLAINTS[0]) for n in range(10, 16)))
    await step(app)
    alerts = alert_messages(fake_telegram)
    same = [m for m in alerts if "saying the same thing" in m["text"]]
    assert len(same) == 1 and re.search(r"🔥 3 mentions", same[0]["text"])
    assert len([m for m in alerts if "parcel" in m["text"] and "🔥" not in m["text"]]) == 6


async def test_with_the_web_console_each_folded_line_links_to_the_mentions_page(
    fake_telegram: FakeTelegram, sandbox_config: Callable[..., AppConfig]
) -> None:
    clock = FakeClock()
    app = staff_app(
        sandbox_config,
        clock,
        BRANDPULSE_WEB_LISTEN="127.0.0.1:0",
        BRANDPULSE_WEB_URL="https://console.example/",
    )
    ingest(app, *(mention(n, clock, text=COMPLAINTS[n % 3], followers=n) for n in range(40)))
    await step(app)
    [group] = [m for m in fake_telegram.sent if m.text.startswith("🔥")]  # as sent: HTML
    pages = [
        int(n) for n in re.findall(r'href="https://console\.example/mentions/(\d+)"', group.text)
    ]
    lines = [line for line in group.text.splitlines() if line.startswith("• ")]
    assert len(pages) == len(lines) > 0  # every listed mention, one link each
    folded = {a.mention_id for a in app.store.alerts() if a.delivery == "grouped"}
    assert set(pages) <= folded | {a.mention_id for a in app.store.alerts() if a.kind == "group"}


async def test_without_the_web_console_no_line_links_to_it(
    fake_telegram: FakeTelegram, sandbox_config: Callable[..., AppConfig]
) -> None:
    clock = FakeClock()
    app = staff_app(sandbox_config, clock, BRANDPULSE_WEB_LISTEN="off")
    ingest(app, *(mention(n, clock, text=COMPLAINTS[n % 3], followers=n) for n in range(40)))
    await step(app)
    [group] = [m for m in fake_telegram.sent if m.text.startswith("🔥")]  # as sent: HTML
    assert "/mentions/" not in group.text and "inbox</a>" not in group.text
