"""The SLA clock on a fake clock: business hours, targets per band and route, the watcher."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from core.clock import FakeClock
from core.store import Store
from responders.flood_budget import FloodBudget
from rules.schema import Rule
from sandbox.telegram_api import FakeTelegram
from service.config import AppConfig
from service.sla import HOLDING_RULE
from service.sla_policy import BusinessHours, HoldingReply, SlaConfig, Targets
from tests.conftest import STAFF_CHAT
from tests.service.alerting import (
    ESCALATION_CHAT,
    ingest,
    mention,
    press,
    staff_app,
    staff_messages,
    step,
)

# A question to the brand below the urgent band (issue 20 made "where is my parcel?" urgent).
QUESTION = "@AcmeSupport can you check parcel {n}?"  # the normal band: one hour
# Friday 2026-01-09 17:30 in Istanbul (UTC+3).
FRIDAY_EVENING = datetime(2026, 1, 9, 14, 30, tzinfo=UTC)


def test_business_hours_skip_nights_and_weekends_in_their_time_zone() -> None:
    hours = BusinessHours.parse("mon-fri 09:00-18:00 Europe/Istanbul")
    # 30 minutes on Friday, the other 30 on Monday from 09:00 Istanbul (06:00 UTC).
    due = hours.add(FRIDAY_EVENING, timedelta(hours=1))
    assert due == datetime(2026, 1, 12, 6, 30, tzinfo=UTC)
    assert hours.elapsed(FRIDAY_EVENING, due) == timedelta(hours=1)
    saturday = datetime(2026, 1, 10, 10, 0, tzinfo=UTC)
    assert hours.add(saturday, timedelta(minutes=15)) == datetime(2026, 1, 12, 6, 15, tzinfo=UTC)


def test_always_open_and_ranges_past_midnight() -> None:
    assert BusinessHours.parse("24/7").add(FRIDAY_EVENING, timedelta(seconds=5)) == (
        FRIDAY_EVENING + timedelta(seconds=5)
    )
    night = BusinessHours.parse("22:00-06:00")  # UTC, every day
    start = datetime(2026, 1, 9, 5, 30, tzinfo=UTC)
    assert night.add(start, timedelta(hours=1)) == datetime(2026, 1, 9, 22, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("mon-fry 09:00-18:00", "'fry' is not a day"),
        ("mon-fri 9-5", "'9-5' is not a time range"),
        ("mon-fri 09:00-18:00 Europe/Istambul", "did you mean 'Europe/Istanbul'"),
    ],
)
def test_business_hours_explain_what_is_wrong(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        SlaConfig(business_hours=text)


def test_targets_per_route_and_urgency_band() -> None:
    config = SlaConfig(routes={"vip": Targets(first_response=timedelta(minutes=30), urgent_at=50)})
    assert config.target("staff", 69) == timedelta(minutes=60)
    assert config.target("staff", 70) == timedelta(minutes=15)
    assert config.target("vip", 49) == timedelta(minutes=30)
    assert config.target("vip", 50) == timedelta(minutes=15)


def test_shipped_config_reads_the_sla_from_the_environment(
    sandbox_config: Callable[..., AppConfig],
) -> None:
    config = sandbox_config(
        SLA_FIRST_RESPONSE="2h",
        SLA_URGENT_FIRST_RESPONSE="20m",
        SLA_BUSINESS_HOURS="mon-fri 09:00-18:00 Europe/Istanbul",
        TELEGRAM_ESCALATION_CHAT_ID="-100555",
    )
    assert (config.sla.first_response, config.sla.urgent_first_response) == (
        timedelta(hours=2),
        timedelta(minutes=20),
    )
    assert config.sla.business_hours == "mon-fri 09:00-18:00 Europe/Istanbul"
    assert config.platforms.telegram.route("escalation").chat_id == -100555  # type: ignore[union-attr]
    default = sandbox_config()
    assert (default.sla.first_response, default.sla.urgent_first_response) == (
        timedelta(minutes=60),
        timedelta(minutes=15),
    )
    assert default.sla.business_hours == "24/7"


async def test_warning_at_half_time_then_escalation_when_unclaimed(
    fake_telegram: FakeTelegram, sandbox_config: Callable[..., AppConfig]
) -> None:
    clock = FakeClock()
    app = staff_app(sandbox_config, clock)
    ingest(app, mention(1, clock))  # urgency 100: 15 minutes
    await step(app)
    [alert] = app.store.alerts()
    assert alert.due_at == clock.now() + timedelta(minutes=15)
    assert alert.warn_at == clock.now() + timedelta(minutes=7, seconds=30)

    clock.advance(timedelta(minutes=7))
    await step(app)
    assert len(staff_messages(fake_telegram)) == 1  # not yet

    clock.advance(timedelta(seconds=30))
    await step(app)
    await step(app)  # warned once, not every second
    notes = [m["text"] for m in staff_messages(fake_telegram) if m.get("reply_to_message")]
    assert notes == ["⏳ 7 min 30 s left to answer this one (due 09:15 UTC)."]
    assert staff_messages(fake_telegram, ESCALATION_CHAT) == []

    clock.advance(timedelta(minutes=7, seconds=30))
    await step(app)
    await step(app)
    [escalation] = staff_messages(fake_telegram, ESCALATION_CHAT)
    assert escalation["text"].startswith(
        "⬆️ Unclaimed past its first-response target of 15 min (0 s overdue)"
    )
    [alert] = app.store.alerts()
    assert (alert.escalated_by, alert.escalated_to) == ("SLA watcher", ["escalation"])
    shown = staff_messages(fake_telegram)[0]["text"]
    assert "⬆️ Escalated by SLA watcher" in shown
    assert "⏰ First response overdue (was due 09:15 UTC)" in shown


async def test_an_escalation_seen_late_says_how_late_never_a_negative_day(
    fake_telegram: FakeTelegram, sandbox_config: Callable[..., AppConfig]
) -> None:
    """The customer wrote 15 min 3 s before we saw it: the deadline passed before the alert."""
    clock = FakeClock()
    app = staff_app(sandbox_config, clock)
    ingest(app, mention(1, clock, ago=timedelta(minutes=15, seconds=3)))  # urgency 100
    await step(app)
    await step(app)
    [escalation] = staff_messages(fake_telegram, ESCALATION_CHAT)
    assert escalation["text"].startswith(
        "⬆️ Unclaimed past its first-response target of 15 min (3 s overdue)"
    )
    assert "-1d" not in escalation["text"]


async def test_a_claimed_alert_is_warned_but_not_escalated(
    fake_telegram: FakeTelegram, sandbox_config: Callable[..., AppConfig]
) -> None:
    clock = FakeClock()
    app = staff_app(sandbox_config, clock)
    ingest(app, mention(1, clock, text=QUESTION))  # normal band: one hour
    await step(app)
    [message] = staff_messages(fake_telegram)
    press(fake_telegram, message, "claim")
    clock.advance(timedelta(minutes=30))
    await step(app)
    notes = [m["text"] for m in staff_messages(fake_telegram) if m.get("reply_to_message")]
    assert notes == ["⏳ @ayse_support, 30 min left to answer this one (due 10:00 UTC)."]

    clock.advance(timedelta(hours=2))
    await step(app)
    assert staff_messages(fake_telegram, ESCALATION_CHAT) == []


async def test_a_target_of_a_few_seconds_works(
    fake_telegram: FakeTelegram, sandbox_config: Callable[..., AppConfig]
) -> None:
    clock = FakeClock()
    app = staff_app(sandbox_config, clock, SLA_URGENT_FIRST_RESPONSE="4s")
    assert app.config.sla.check_every == timedelta(seconds=1)
    ingest(app, mention(1, clock))
    await step(app)
    clock.advance(2)
    await step(app)
    assert [m["text"] for m in staff_messages(fake_telegram)][1:] == [
        "⏳ 2 s left to answer this one (due 09:00 UTC)."
    ]
    clock.advance(2)
    await step(app)
    assert len(staff_messages(fake_telegram, ESCALATION_CHAT)) == 1


async def test_snoozed_alerts_are_not_escalated_until_they_come_back(
    fake_telegram: FakeTelegram, sandbox_config: Callable[..., AppConfig]
) -> None:
    clock = FakeClock()
    app = staff_app(sandbox_config, clock)
    ingest(app, mention(1, clock))
    await step(app)
    press(fake_telegram, staff_messages(fake_telegram)[0], "s60")
    await step(app)
    clock.advance(timedelta(minutes=30))  # past the 15-minute target, but snoozed
    await step(app)
    assert staff_messages(fake_telegram, ESCALATION_CHAT) == []
    clock.advance(timedelta(minutes=30))
    await step(app)
    assert len(staff_messages(fake_telegram, ESCALATION_CHAT)) == 1


def _holding(config: AppConfig) -> AppConfig:
    holding = HoldingReply(rules=["refunds-and-legal"], before=timedelta(minutes=5))
    return config.model_copy(
        update={"sla": config.sla.model_copy(update={"holding_reply": holding})}
    )


async def test_holding_reply_goes_to_the_outbox_before_the_deadline_when_a_rule_allows(
    fake_telegram: FakeTelegram, sandbox_config: Callable[..., AppConfig]
) -> None:
    clock = FakeClock()
    app = staff_app(sandbox_config, clock, update=_holding)
    ingest(
        app,
        mention(1, clock),  # refunds-and-legal: may get one
        mention(2, clock, text="@AcmeSupport this is the worst, I hate you all"),  # another rule
    )
    await step(app)
    clock.advance(timedelta(minutes=9, seconds=59))
    await step(app)
    assert not [o for o in app.store.outbox() if o.kind == "reply"]

    clock.advance(1)  # 5 minutes before the 15-minute deadline
    await step(app)
    await step(app)
    [reply] = [o for o in app.store.outbox() if o.kind == "reply"]
    assert reply.rule == HOLDING_RULE
    assert reply.payload["text"] == (
        "Hi @customer1, thanks for reaching out. We're looking into this and will get back to "
        "you shortly."
    )
    assert reply.mention_id == app.store.alerts()[0].mention_id


async def test_no_holding_reply_once_an_agent_answered(
    fake_telegram: FakeTelegram, sandbox_config: Callable[..., AppConfig]
) -> None:
    clock = FakeClock()
    app = staff_app(sandbox_config, clock, update=_holding)
    ingest(app, mention(1, clock))
    await step(app)
    message = staff_messages(fake_telegram)[0]
    press(fake_telegram, message, "reply")
    await step(app)
    press(fake_telegram, staff_messages(fake_telegram)[0], "saved")
    await step(app)
    press(fake_telegram, staff_messages(fake_telegram)[0], "send")
    await step(app)
    clock.advance(timedelta(minutes=20))
    await step(app)
    assert [o.rule for o in app.store.outbox() if o.kind == "reply"] == ["agent-reply-1"]


def _escalating_rule(config: AppConfig) -> AppConfig:
    rule = Rule.model_validate(
        {
            "name": "legal-threats",
            "when": {"keywords": ["lawyer"]},
            "actions": [
                {"kind": "alert"},
                {"kind": "escalate", "route": "escalation", "after": "2m"},
                {"kind": "stop"},
            ],
        }
    )
    return config.model_copy(update={"rules": [rule, *config.rules]})


async def test_a_rule_escalation_fires_after_its_own_delay(
    fake_telegram: FakeTelegram, sandbox_config: Callable[..., AppConfig]
) -> None:
    clock = FakeClock()
    app = staff_app(sandbox_config, clock, update=_escalating_rule)
    ingest(app, mention(1, clock, text="@AcmeSupport my lawyer will hear about this"))
    await step(app)
    clock.advance(timedelta(minutes=2))
    await step(app)
    [note] = staff_messages(fake_telegram, ESCALATION_CHAT)
    assert note["text"].startswith("⬆️ Unclaimed after 2 min (rule legal-threats)")


async def test_the_watcher_counts_what_other_nodes_sent_into_the_chat(
    fake_telegram: FakeTelegram, sandbox_config: Callable[..., AppConfig]
) -> None:
    """Issue 14: a warning due while another node used up the chat's minute waits for room."""
    clock = FakeClock()
    app = staff_app(sandbox_config, clock)
    ingest(app, mention(1, clock))  # urgency 100: warned at 7 min 30 s
    await step(app)
    clock.advance(timedelta(minutes=7, seconds=30))
    other_store = Store.open(app.config.database.url)
    try:
        other = FloodBudget(clock, other_store, app.config.alerts.max_per_minute)
        while await other.take(STAFF_CHAT):  # the other node fills this minute
            pass
        assert app.watcher is not None and app.telegram is not None
        async with app.telegram:
            await app.watcher.check()
            [alert] = app.store.alerts()
            assert alert.warned_at is None  # not marked warned with no room to say so
            assert not [m for m in staff_messages(fake_telegram) if m.get("reply_to_message")]

            clock.advance(timedelta(seconds=61))  # the minute is over
            await app.watcher.check()
    finally:
        other_store.close()
    notes = [m["text"] for m in staff_messages(fake_telegram) if m.get("reply_to_message")]
    assert notes == ["⏳ 6 min 29 s left to answer this one (due 09:15 UTC)."]


async def test_the_watcher_says_when_it_is_next_due(
    fake_telegram: FakeTelegram, sandbox_config: Callable[..., AppConfig]
) -> None:
    """The running node sleeps until then (issue 19) instead of looking every second."""
    clock = FakeClock()
    app = staff_app(sandbox_config, clock)
    assert app.watcher is not None
    ingest(app, mention(1, clock))  # urgency 100: warned at 7 min 30 s, due at 15 min
    await step(app)
    [alert] = app.store.alerts()
    assert app.watcher.next_check == alert.warn_at

    clock.advance(timedelta(minutes=7, seconds=30))
    await step(app)  # warned
    assert app.watcher.next_check == alert.due_at

    press(fake_telegram, staff_messages(fake_telegram)[0], "claim")
    clock.advance(timedelta(minutes=1))
    await step(app)  # claimed: warned already, never escalated, so nothing ahead
    assert app.watcher.next_check is None
