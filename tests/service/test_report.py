"""The report's numbers on a seeded history, each worked out by hand in the comments."""

import argparse
import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from core.mention import Mention
from core.store import Decision, PlannedAction, Store
from service.cli_errors import CommandFailed
from service.report import Percentiles, as_csv, as_json, as_text, build_report, digest_text
from service.report_cli import cmd_report
from tests.conftest import SHIPPED_CONFIG

SINCE = datetime(2026, 1, 1, tzinfo=UTC)
UNTIL = datetime(2026, 1, 3, tzinfo=UTC)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 1, day, hour, minute, tzinfo=UTC)


# (number, written, platform, source, author, followers, sentiment, reasons, rules)
MENTIONS = [
    (0, datetime(2025, 12, 31, 23, 0, tzinfo=UTC), "x", "x:mentions", "old", 9, -0.9, [], []),
    (1, at(1, 9), "x", "x:mentions", "ana", 1000, -0.8, ["refund +25", "VADER -0.80 +52"],
     ["refunds-and-legal"]),
    (2, at(1, 10), "x", "x:mentions", "ana", 1000, -0.4, ["refund +25"], ["refunds-and-legal"]),
    (3, at(1, 11), "x", "x:search:brand", "ben", 5000, 0.6, [], []),
    (4, at(2, 9), "reddit", "reddit:r/acme", "cem", 0, -0.6, ["broken +10"], ["clearly-negative"]),
    (5, at(2, 12), "telegram", "telegram:groups", "dan", 200, 0.0, ["question +5"],
     ["needs-response"]),
    (6, at(2, 13), "x", "x:mentions", "eve", 20000, 0.5, [], []),
]  # fmt: skip


def seed(store: Store) -> dict[int, int]:
    """The history above; returns mention number → mention id."""
    ids: dict[int, int] = {}
    for number, written, platform, source, author, followers, sentiment, reasons, rules in MENTIONS:
        mention = Mention(
            platform=platform,
            external_id=f"m{number}",
            text=f"mention {number}",
            created_at=written,
            source=source,
            author_id=author,
            author_handle=author,
            author_followers=followers,
        )
        decision = Decision(sentiment, 50, tuple(reasons), tuple(rules))
        [new] = store.ingest(source, [mention], None, lambda _m, d=decision: d, written)
        ids[number] = new.mention_id

    def alert(number: int, created: datetime, due: datetime, **values: object) -> int:
        row = store.open_alert_message(
            {
                "mention_id": ids[number],
                "chat_id": "-100",
                "message_id": 0,
                "created_at": created,
                "due_at": due,
                **values,
            }
        )
        store.alert_message_sent(row.id or 0, 1000 + number, created)
        return row.id or 0

    # A1: answered by an agent at 09:11 (11 minutes after the customer wrote at 09:00), within
    # its 09:15 deadline; resolved at 09:30.
    a1 = alert(1, at(1, 9, 1), at(1, 9, 15), answered_at=at(1, 9, 11), answered_by="@ana_s")
    store.record_agent_action(a1, "resolve", "1", "@ana_s", at(1, 9, 30))
    # A2: nobody answered; due 11:00, before the end of the period: missed.
    alert(2, at(1, 10, 1), at(1, 11))
    # Mention 3 was counted inside A1's message (grouped).
    grouped = store.queue_action(ids[3], PlannedAction("alert", "r", "staff"), at(1, 11))
    store.count_in(
        [
            {
                "mention_id": ids[3],
                "chat_id": "-100",
                "message_id": 1001,
                "created_at": at(1, 11, 1),
                "delivery": "grouped",
                "group_id": a1,
                "outbox_id": grouped,
            }
        ],
        {},
    )
    # A4: resolved at 10:30 without a reply, 90 minutes after 09:00; due 10:00: missed.
    a4 = alert(4, at(2, 9, 2), at(2, 10))
    store.record_agent_action(a4, "resolve", "2", "@ben_s", at(2, 10, 30))
    # A5: not relevant: out of the SLA figures.
    a5 = alert(5, at(2, 12, 1), at(2, 13))
    store.record_agent_action(a5, "not_relevant", "2", "@ben_s", at(2, 12, 5))
    # A6: due after the period ends and not answered yet: pending.
    alert(6, at(2, 23, 50), at(3, 0, 50))

    def reply(number: int, rule: str, sent: datetime | None, automatic: bool = True) -> None:
        action = PlannedAction("reply", rule, payload={"text": "hi"})
        outbox_id = store.queue_action(ids[number], action, sent or UNTIL)
        if sent is not None and outbox_id is not None:
            [claimed] = store.claim_due(sent, 50, ["reply"])  # a responder takes it, posts it
            record = {
                "outbox_id": claimed.id,
                "mention_id": ids[number],
                "platform": "x",
                "rule": rule,
                "automatic": automatic,
                "text": "hi",
                "created_at": sent,
                "state": "sent",
                "sent_at": sent,
            }
            store.save_reply(record, "sent", sent)

    reply(1, "sla-holding", at(1, 9, 5))  # bot first touch for mention 1: 5 minutes
    reply(1, "agent-reply-1", at(1, 9, 3), automatic=False)  # earlier, but a human's: no bot touch
    reply(4, "clearly-negative", at(2, 9, 1))  # bot first touch for mention 4: 1 minute
    reply(4, "clearly-negative-2", at(2, 9, 30))  # later: the first one counts
    reply(5, "needs-response", None)  # never sent
    return ids


@pytest.fixture
def store(database_url: str) -> Store:
    store = Store.open(database_url)
    seed(store)
    return store


def test_volume_sla_response_times_sentiment_and_the_three_vs(store: Store) -> None:
    report = build_report(store, SINCE, UNTIL, UTC)

    assert report.mentions == 6  # mention 0 is before the period
    assert report.by_platform == {"x": 4, "reddit": 1, "telegram": 1}
    assert report.by_source == {
        "x:mentions": 3,
        "x:search:brand": 1,
        "reddit:r/acme": 1,
        "telegram:groups": 1,
    }
    assert report.alerts == 5  # A1, A2, A4, A5, A6
    assert report.counted_in_alerts == {"grouped": 1}
    assert report.not_relevant == 1
    assert (report.within_target, report.missed_target, report.pending) == (1, 2, 1)
    assert report.share_within_target == pytest.approx(1 / 3)
    # Human: A1 11 min (660 s), A4 90 min (5400 s). Nearest rank: p50 = 1st, p90 = 2nd.
    assert report.human_first_response == Percentiles(2, 660, 5400)
    # Bot: mention 1 after 300 s, mention 4 after 60 s.
    assert report.bot_first_touch == Percentiles(2, 60, 300)
    # Resolution: A1 09:00 → 09:30 (1800 s), A4 09:00 → 10:30 (5400 s).
    assert report.resolution == Percentiles(2, 1800, 5400)

    # Sentiment: (-0.8 - 0.4 + 0.6 - 0.6 + 0.0 + 0.5) / 6 = -0.1167; 3 of 6 negative, 2 positive.
    assert report.mean_sentiment == -0.117
    assert (report.share_negative, report.share_positive) == (0.5, 0.333)
    # Jan 1: (-0.8 - 0.4 + 0.6) / 3 = -0.2, 2 of 3 negative; Jan 2: (-0.6 + 0 + 0.5) / 3.
    assert [(d.day.day, d.mentions, d.mean_sentiment, d.share_negative) for d in report.daily] == [
        (1, 3, -0.2, 0.667),
        (2, 3, -0.033, 0.333),
    ]
    assert report.top_reasons == [("refund", 2), ("VADER", 1), ("broken", 1), ("question", 1)]
    assert report.top_rules == [
        ("refunds-and-legal", 2),
        ("clearly-negative", 1),
        ("needs-response", 1),
    ]

    # Value: 5 authors, ana wrote twice; reach 1000 + 5000 + 0 + 200 + 20000; answered: ana.
    assert (report.authors, report.repeat_authors) == (5, 1)
    assert (report.reach, report.reach_answered) == (26_200, 1000)
    # Valence: Jan 1 net (1 - 2) / 3 = -0.333; Jan 2 net (1 - 1) / 3 = 0: improving.
    assert (report.net_first_half, report.net_second_half) == (-0.333, 0.0)
    assert report.valence_trend == "improving"


def test_text_json_and_csv_say_the_same(store: Store) -> None:
    report = build_report(store, SINCE, UNTIL, UTC)
    text = as_text(report, UTC)
    assert "answered within target: 33% (1 of 3; 1 pending, 1 not relevant)" in text
    assert "human first response: p50 11 min, p90 1 h 30 min (n=2)" in text
    assert "bot first touch:      p50 1 min, p90 5 min (n=2)" in text
    assert "2026-01-01 -0.20   67% (3 mentions)" in text
    assert "Valence: net -0.33 → +0.00 (improving)" in text

    data = json.loads(as_json(report))
    assert data["share_within_target"] == pytest.approx(1 / 3)
    assert data["human_first_response"] == {"count": 2, "p50": 660, "p90": 5400}
    assert data["daily"][0] == {
        "day": "2026-01-01",
        "mentions": 3,
        "mean_sentiment": -0.2,
        "share_negative": 0.667,
    }

    rows = list(csv.reader(io.StringIO(as_csv(report))))
    assert rows[0] == ["section", "name", "value"]
    assert ["platform", "reddit", "1"] in rows
    assert ["sla", "within_target", "1"] in rows
    assert ["bot_first_touch", "p90_s", "300"] in rows
    assert ["valence", "trend", "improving"] in rows

    digest = digest_text(report, "Daily digest")
    assert "6 mentions · 5 alerts · 33% answered within target" in digest
    assert "Human first response p50 11 min, p90 1 h 30 min · bot first touch p50 1 min" in digest


def test_main_report_command_reads_the_configured_database(
    store: Store, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BRANDPULSE_DATABASE_URL", database_url)
    out = io.StringIO()
    args = argparse.Namespace(since=timedelta(days=2), format="csv", config=SHIPPED_CONFIG)
    assert cmd_report(args, out, now=UNTIL) == 0
    assert ["volume", "mentions", "6"] in list(csv.reader(io.StringIO(out.getvalue())))


def test_report_without_a_database_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRANDPULSE_DATABASE_URL", f"sqlite:///{tmp_path / 'none.db'}")
    args = argparse.Namespace(since=timedelta(days=7), format="text", config=SHIPPED_CONFIG)
    with pytest.raises(CommandFailed) as failed:
        cmd_report(args, io.StringIO())
    assert failed.value.code == 1
    assert f"no database at {tmp_path / 'none.db'} yet" in failed.value.message
    assert not (tmp_path / "none.db").exists()


def test_days_are_the_brands_local_days_across_a_clock_change_and_half_hour_zones(
    database_url: str,
) -> None:
    """The database counts per local day: each mention written a minute either side of a
    local midnight lands on its own side, in New York across the spring change (EST → EDT,
    2026-03-08 07:00 UTC) and in Kolkata (UTC+05:30)."""
    store = Store.open(database_url)
    moments = [
        datetime(2026, 3, 8, 4, 59, tzinfo=UTC),  # New York Mar 7 23:59 EST; Kolkata Mar 8
        datetime(2026, 3, 8, 5, 0, tzinfo=UTC),  # New York Mar 8 00:00 EST
        datetime(2026, 3, 8, 18, 29, tzinfo=UTC),  # Kolkata Mar 8 23:59
        datetime(2026, 3, 8, 18, 30, tzinfo=UTC),  # Kolkata Mar 9 00:00
        datetime(2026, 3, 9, 3, 59, tzinfo=UTC),  # New York Mar 8 23:59 EDT
        datetime(2026, 3, 9, 4, 0, tzinfo=UTC),  # New York Mar 9 00:00 EDT
    ]
    decision = Decision(-0.5, 50, (), ())
    for n, written in enumerate(moments):
        mention = Mention(
            platform="x", external_id=f"z{n}", text=f"z{n}", created_at=written, author_id=f"a{n}"
        )
        store.ingest("x:mentions", [mention], None, lambda _m: decision, written)
    since, until = datetime(2026, 3, 7, tzinfo=UTC), datetime(2026, 3, 10, tzinfo=UTC)
    new_york = build_report(store, since, until, ZoneInfo("America/New_York"))
    assert [(d.day.day, d.mentions) for d in new_york.daily] == [(7, 1), (8, 4), (9, 1)]
    kolkata = build_report(store, since, until, ZoneInfo("Asia/Kolkata"))
    assert [(d.day.day, d.mentions) for d in kolkata.daily] == [(8, 3), (9, 3)]
