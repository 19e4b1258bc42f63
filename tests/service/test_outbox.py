"""The one outbox drain hands each responder its actions, loading payloads only for those that
read them."""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from core.clock import FakeClock
from core.mention import Mention
from core.store import Decision, OutboxItem, PlannedAction, Store
from responders.base import Settled
from service.outbox import OutboxWorker

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
PAYLOAD = {"chat": {"id": -5}, "message_thread_id": 7, "is_topic_message": True}


class Recording:
    """A responder that settles every action it is handed and keeps what it saw."""

    batch_size = 50

    def __init__(self, store: Store, kind: str, reads_raw: bool):
        self.store = store
        self.kind = kind
        self.reads_raw = reads_raw
        self.seen: list[OutboxItem] = []

    async def perform(self, items: Sequence[OutboxItem]) -> Settled:
        for item in items:
            self.store.mark_sent(item.id, NOW)
        self.seen += items
        return Settled(len(items))

    async def flush(self) -> None:
        return None


def alert_and_reply(_: Mention) -> Decision:
    return Decision(
        sentiment=-0.5,
        urgency=60,
        rules=("r1",),
        actions=(PlannedAction("alert", "r1", "staff"), PlannedAction("reply", "r1", "telegram")),
    )


async def test_only_responders_that_read_payloads_get_them(database_url: str) -> None:
    store = Store.open(database_url)
    mention = Mention(
        platform="telegram",
        external_id="-5:9",
        text="broken",
        created_at=NOW - timedelta(minutes=1),
        raw=PAYLOAD,
    )
    store.ingest("telegram:updates", [mention], None, alert_and_reply, NOW)
    alerts = Recording(store, "alert", reads_raw=False)
    replies = Recording(store, "reply", reads_raw=True)

    assert await OutboxWorker(store, [alerts, replies], FakeClock(NOW)).drain() == 2

    [alert], [reply] = alerts.seen, replies.seen
    assert alert.mention == reply.mention == mention  # the same mention, field for field …
    assert (alert.mention.raw, reply.mention.raw) == ({}, PAYLOAD)  # … but for its payload
    store.close()
