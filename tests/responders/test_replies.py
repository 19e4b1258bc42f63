"""The reply responder and its guardrails, on the real store, with a recording platform."""

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest

from core.clock import FakeClock
from core.mention import Mention
from core.store import Decision, OutboxItem, PlannedAction, Store
from responders.base import ResponderError
from responders.guardrails import Guardrails, RepliesConfig
from responders.replies import CannotCheck, Posted, PostFailed, Replies, reply_note

# A Monday, 10:00 UTC: outside the default quiet hours.
START = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
TEXT = "Hi @dana, sorry about that. We've sent you a DM."


class RecordingPoster:
    """The platform: remembers what was posted; `find` answers from that memory."""

    platform: ClassVar[str] = "x"

    def __init__(self, can_check: bool = True):
        self.account = "AcmeSupport"
        self.posted: list[tuple[str, str]] = []
        self.can_check = can_check
        self.fail: PostFailed | None = None

    async def post(self, mention: Mention, text: str) -> Posted:
        if self.fail is not None:
            raise self.fail
        self.posted.append((mention.external_id, text))
        return Posted(
            f"reply-{len(self.posted)}", f"https://x.com/AcmeSupport/status/{len(self.posted)}"
        )

    async def find(self, mention: Mention, text: str) -> Posted | None:
        if not self.can_check:
            raise CannotCheck("this platform cannot be asked")
        for number, posted in enumerate(self.posted, start=1):
            if posted == (mention.external_id, text):
                return Posted(f"reply-{number}")
        return None


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = Store.open(database_url)
    yield opened
    opened.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


def mention(number: int, author: str = "dana", **fields: Any) -> Mention:
    return Mention(
        platform="x",
        external_id=str(1000 + number),
        text="my order arrived broken",
        created_at=START - timedelta(minutes=5),
        source="x:mentions",
        author_id=f"id-{author}",
        author_handle=author,
        conversation_id=str(1000 + number),
        **fields,
    )


def queue(
    store: Store, clock: FakeClock, found: Mention, rule: str = "sorry", **payload: Any
) -> OutboxItem:
    """Store `found` with one reply action and claim that action, as the outbox worker does."""
    action = PlannedAction("reply", rule, payload={"text": TEXT, "dry_run": False, **payload})
    [ingested] = store.ingest(
        "x:mentions", [found], None, lambda _m: Decision(0.0, 50, actions=(action,)), clock.now()
    ) or [None]
    if ingested is None:  # the mention was stored before: queue one more action for it
        mention_id = next(m.id for m in store.mentions() if m.external_id == found.external_id)
        store.queue_action(mention_id or 0, action, clock.now())
    return next(i for i in store.claim_due(clock.now(), kinds=["reply"]) if i.rule == rule)


def waiting(store: Store, item: OutboxItem) -> datetime | None:
    """When the action `item` is due again, if it waits."""
    [row] = [row for row in store.outbox() if row.id == item.id]
    return row.not_before if row.state == "pending" else None


def responder(store: Store, clock: FakeClock, poster: RecordingPoster, **config: Any) -> Replies:
    guardrails = Guardrails(RepliesConfig(**config), store, ["AcmeSupport", "7000000001"])
    return Replies(store, {"x": poster}, guardrails, clock)


async def test_a_reply_is_posted_once_and_recorded(store: Store, clock: FakeClock) -> None:
    poster = RecordingPoster()
    replies = responder(store, clock, poster)
    item = queue(store, clock, mention(1))

    outcome = await replies.perform(item)

    assert poster.posted == [("1001", TEXT)]
    assert outcome.ref == "reply-1"
    [record] = store.replies()
    assert (record.state, record.platform_ref, record.text) == ("sent", "reply-1", TEXT)
    assert (record.posted_by, record.rule, record.sent_at) == ("AcmeSupport", "sorry", START)
    [row] = store.outbox()
    assert (row.state, row.result_ref) == ("sent", "reply-1")
    # The same action performed again (its outbox mark lost) posts nothing.
    assert (await replies.perform(item)).ref == "reply-1"
    assert len(poster.posted) == 1


class _Crash(Exception):
    """The process dies: nothing after this line of the responder runs."""


async def _crash_after_posting(
    store: Store, replies: Replies, item: OutboxItem, clock: FakeClock
) -> None:
    """The platform accepted the reply, then the process died before recording it."""
    original = store.save_reply

    def die_on_sent(values: dict[str, Any], finish: str = "", now: Any = None) -> Any:
        if values.get("state") == "sent":
            raise _Crash
        return original(values, finish, now)

    store.save_reply = die_on_sent  # type: ignore[method-assign]
    try:
        with pytest.raises(_Crash):
            await replies.perform(item)
    finally:
        store.save_reply = original  # type: ignore[method-assign]
    store.recover_in_flight(clock.now())  # no node holds a heartbeat lease here: all dead


async def test_a_crash_between_posting_and_recording_is_reconciled_not_repeated(
    store: Store, clock: FakeClock
) -> None:
    poster = RecordingPoster()
    replies = responder(store, clock, poster)
    item = queue(store, clock, mention(1))
    await _crash_after_posting(store, replies, item, clock)
    assert [r.state for r in store.replies()] == ["attempting"]

    [again] = store.claim_due(clock.now(), kinds=["reply"])
    outcome = await replies.perform(again)

    assert len(poster.posted) == 1  # found on the platform, not posted again
    assert outcome.ref == "reply-1"
    [record] = store.replies()
    assert (record.state, record.platform_ref) == ("sent", "reply-1")


async def test_an_interrupted_attempt_that_never_reached_the_platform_is_posted(
    store: Store, clock: FakeClock
) -> None:
    poster = RecordingPoster()
    replies = responder(store, clock, poster)
    item = queue(store, clock, mention(1))
    await _crash_after_posting(store, replies, item, clock)
    poster.posted.clear()  # the request never arrived

    [again] = store.claim_due(clock.now(), kinds=["reply"])
    await replies.perform(again)

    assert poster.posted == [("1001", TEXT)]
    assert [r.state for r in store.replies()] == ["sent"]


async def test_where_the_platform_cannot_be_asked_the_reply_is_not_repeated(
    store: Store, clock: FakeClock
) -> None:
    poster = RecordingPoster(can_check=False)
    replies = responder(store, clock, poster)
    item = queue(store, clock, mention(1))
    await _crash_after_posting(store, replies, item, clock)

    [again] = store.claim_due(clock.now(), kinds=["reply"])
    with pytest.raises(ResponderError) as failed:
        await replies.perform(again)

    assert failed.value.retry_at is None
    assert len(poster.posted) == 1
    [record] = store.replies()
    assert record.state == "uncertain"
    assert "not posted again" in reply_note(record)


async def test_a_refused_reply_is_recorded_as_failed_and_a_lost_connection_is_checked_first(
    store: Store, clock: FakeClock
) -> None:
    poster = RecordingPoster()
    replies = responder(store, clock, poster)
    poster.fail = PostFailed("X refused the reply: deleted tweet", None)
    with pytest.raises(ResponderError):
        await replies.perform(queue(store, clock, mention(1)))
    assert [(r.state, r.reason) for r in store.replies()] == [
        ("failed", "X refused the reply: deleted tweet")
    ]

    poster.fail = PostFailed("X unreachable", START + timedelta(seconds=5), unknown=True)
    with pytest.raises(ResponderError):
        await replies.perform(queue(store, clock, mention(2, author="lee")))
    assert store.replies()[-1].state == "attempting"  # maybe posted: ask before posting again


async def test_no_auto_reply_to_the_brand_itself_or_to_bots(store: Store, clock: FakeClock) -> None:
    poster = RecordingPoster()
    replies = responder(store, clock, poster, per_author=None, per_conversation=None)
    cases = [
        (mention(1, author="AcmeSupport"), "brand's own accounts"),
        (mention(2, author="7000000001"), "brand's own accounts"),  # our Telegram bot's id
        (mention(3, author="helper", author_is_bot=True), "bot"),
        (mention(4, author="AutoModerator"), "bot"),
        (mention(5, author="deals_bot"), "bot"),
    ]
    for found, _reason in cases:
        await replies.perform(queue(store, clock, found))
    assert poster.posted == []
    records = store.replies()
    assert [r.state for r in records] == ["skipped"] * len(cases)
    for record, (_found, reason) in zip(records, cases, strict=True):
        assert reason in record.reason


async def test_bots_can_be_allowed(store: Store, clock: FakeClock) -> None:
    poster = RecordingPoster()
    replies = responder(store, clock, poster, skip_bots=False)
    await replies.perform(queue(store, clock, mention(1, author="deals_bot")))
    assert len(poster.posted) == 1


async def test_one_automatic_reply_per_mention(store: Store, clock: FakeClock) -> None:
    poster = RecordingPoster()
    replies = responder(store, clock, poster, per_author=None, per_conversation=None)
    await replies.perform(queue(store, clock, mention(1)))
    holding = queue(store, clock, mention(1), rule="sla-holding-reply", holding=True)
    await replies.perform(holding)
    assert len(poster.posted) == 1
    assert "already answered" in store.replies()[-1].reason


async def test_an_agents_reply_is_never_held_back(store: Store, clock: FakeClock) -> None:
    poster = RecordingPoster()
    replies = responder(store, clock, poster, quiet_hours="00:00-23:59")
    await replies.perform(queue(store, clock, mention(1, author="AcmeSupport"), agent="@ayse"))
    assert len(poster.posted) == 1
    [record] = store.replies()
    assert (record.automatic, record.posted_by) == (False, "@ayse")
    assert "by @ayse" in reply_note(record)


async def test_one_auto_reply_per_author_per_cooldown(store: Store, clock: FakeClock) -> None:
    poster = RecordingPoster()
    replies = responder(store, clock, poster, per_author="24h")
    await replies.perform(queue(store, clock, mention(1)))
    await replies.perform(queue(store, clock, mention(2)))
    assert len(poster.posted) == 1
    assert "this author" in store.replies()[-1].reason

    clock.advance(timedelta(hours=25))
    await replies.perform(queue(store, clock, replace(mention(3), created_at=clock.now())))
    assert len(poster.posted) == 2


async def test_one_auto_reply_per_conversation(store: Store, clock: FakeClock) -> None:
    poster = RecordingPoster()
    replies = responder(store, clock, poster)
    await replies.perform(queue(store, clock, mention(1)))
    same_thread = replace(mention(2, author="lee"), conversation_id="1001")
    await replies.perform(queue(store, clock, same_thread))
    assert len(poster.posted) == 1
    assert "this conversation" in store.replies()[-1].reason
    unlimited = responder(store, clock, poster, per_conversation=None)
    await unlimited.perform(
        queue(store, clock, replace(mention(3, author="kim"), conversation_id="1001"))
    )
    assert len(poster.posted) == 2


async def test_the_hourly_cap_makes_replies_wait(store: Store, clock: FakeClock) -> None:
    poster = RecordingPoster()
    replies = responder(store, clock, poster, max_per_hour=2)
    for number in (1, 2):
        await replies.perform(queue(store, clock, mention(number, author=f"a{number}")))
        clock.advance(timedelta(minutes=10))
    third = queue(store, clock, mention(3, author="a3"))
    await replies.perform(third)
    assert len(poster.posted) == 2
    assert waiting(store, third) == START + timedelta(hours=1)


async def test_quiet_hours_make_replies_wait_until_they_end(store: Store, clock: FakeClock) -> None:
    poster = RecordingPoster()
    replies = responder(store, clock, poster, quiet_hours="22:00-07:00", timezone="Europe/Istanbul")
    clock.advance(timedelta(hours=10))  # 20:00 UTC is 23:00 in Istanbul
    late = queue(store, clock, replace(mention(1), created_at=clock.now()))
    await replies.perform(late)
    assert poster.posted == []
    assert waiting(store, late) == datetime(2026, 1, 6, 4, 0, tzinfo=UTC)  # 07:00 local
    # Only that action waits: an agent's reply goes out at once.
    await replies.perform(queue(store, clock, mention(9, author="kim"), agent="@ayse"))
    assert len(poster.posted) == 1
    no_quiet = responder(store, clock, poster, quiet_hours="off")
    poster.posted.clear()
    await no_quiet.perform(
        queue(store, clock, replace(mention(2, author="lee"), created_at=clock.now()))
    )
    assert len(poster.posted) == 1


async def test_a_mention_too_old_is_not_answered(store: Store, clock: FakeClock) -> None:
    poster = RecordingPoster()
    clock.advance(timedelta(hours=13))
    await responder(store, clock, poster).perform(queue(store, clock, mention(1)))
    assert poster.posted == []
    assert "older than 12 h" in store.replies()[0].reason


async def test_dry_run_records_what_would_have_been_sent(store: Store, clock: FakeClock) -> None:
    poster = RecordingPoster()
    replies = responder(store, clock, poster)
    await replies.perform(queue(store, clock, mention(1), dry_run=True))
    await replies.perform(queue(store, clock, mention(2), dry_run=True))
    assert poster.posted == []
    first, second = store.replies()
    assert (first.state, first.text) == ("dry_run", TEXT)
    # Judged as if live: the same author would not have been answered twice.
    assert second.state == "skipped"
    assert "this author" in second.reason
    assert [row.state for row in store.outbox()] == ["dry_run", "skipped"]
    note = reply_note(first)
    assert "Dry run" in note and "sorry about that" in note


async def test_auto_replies_can_be_switched_off(store: Store, clock: FakeClock) -> None:
    poster = RecordingPoster()
    await responder(store, clock, poster, enabled=False).perform(queue(store, clock, mention(1)))
    assert poster.posted == []
    assert "switched off" in store.replies()[0].reason


async def test_a_platform_without_an_account_is_a_skip_not_a_failure(
    store: Store, clock: FakeClock
) -> None:
    replies = responder(store, clock, RecordingPoster())
    telegram = replace(mention(1), platform="telegram", external_id="-100:5")
    await replies.perform(queue(store, clock, telegram))
    assert "no account set up to post on Telegram" in store.replies()[0].reason


def test_the_staff_note_escapes_user_text() -> None:
    from core.models import ReplyRow

    record = ReplyRow(
        outbox_id=1,
        mention_id=1,
        platform="reddit",
        rule="sorry",
        text="Hi <b>dana</b> & co",
        posted_by="AcmeSupport",
        state="sent",
        platform_ref="t1_abc",
        created_at=START,
        sent_at=START,
    )
    note = reply_note(record)
    assert "Replied on Reddit</b> as AcmeSupport · rule sorry" in note
    assert "Hi &lt;b&gt;dana&lt;/b&gt; &amp; co" in note
    assert "2026-01-05 10:00 UTC · id t1_abc" in note
