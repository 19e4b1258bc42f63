"""Leases: one holder at a time, takeover after expiry, and crash recovery of dead nodes only."""

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import event

from core.clock import FakeClock
from core.leases import Leases
from core.mention import Mention
from core.store import Decision, PlannedAction, Store

TTL = timedelta(seconds=30)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    store = Store.open(database_url)
    yield store
    store.close()


def test_one_holder_at_a_time_and_takeover_after_expiry(store: Store) -> None:
    clock = FakeClock()
    a, b = (Leases(store.engine, name, TTL, clock) for name in ("node-a", "node-b"))

    assert a.hold("source:x:mentions")
    assert not b.hold("source:x:mentions")
    clock.advance(TTL / 2 + timedelta(seconds=1))
    assert a.hold("source:x:mentions")  # renewed past half its life
    clock.advance(TTL - timedelta(seconds=1))
    assert not b.hold("source:x:mentions")  # still a's: renewed above
    clock.advance(timedelta(seconds=2))  # a died: nobody renewed

    assert b.hold("source:x:mentions")
    assert not a.hold("source:x:mentions")  # a is back, but b has it now
    assert a.held() == set()


def test_beat_renews_everything_held_and_release_hands_it_over(store: Store) -> None:
    clock = FakeClock()
    a, b = (Leases(store.engine, name, TTL, clock) for name in ("node-a", "node-b"))
    assert a.hold("source:one")
    assert a.beat() == {"source:one", "node:node-a"}
    clock.advance(TTL - timedelta(seconds=1))
    a.beat()
    clock.advance(timedelta(seconds=2))
    assert not b.hold("source:one")

    a.release()
    b2 = Leases(store.engine, "node-b", TTL, clock)  # a fresh view: no remembered expiry
    assert b2.hold("source:one")


def test_a_source_taken_while_a_beat_runs_is_not_lost(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """The node beats and takes sources from worker threads: a source taken while a beat
    renews is still held after it, not reported lost to another node and taken again."""
    clock = FakeClock()
    leases = Leases(store.engine, "node-a", TTL, clock)
    leases.beat()
    taker: list[threading.Thread] = []

    def take_during_the_beat(connection: object, *_: object) -> None:
        if taker:
            return  # the taker's own statements
        taker.append(threading.Thread(target=leases.hold, args=("source:new",)))
        taker[0].start()
        taker[0].join(timeout=1)  # unserialised, it takes the source inside this window

    event.listen(store.engine, "commit", take_during_the_beat)
    try:
        leases.beat()
        taker[0].join()
    finally:
        event.remove(store.engine, "commit", take_during_the_beat)

    assert "lost to another node" not in caplog.text
    assert leases.held() == {"node:node-a", "source:new"}


def test_recovery_retries_only_the_actions_of_nodes_without_a_heartbeat(store: Store) -> None:
    clock = FakeClock()
    now = clock.now()
    mentions = [Mention("x", str(n), "broken", now) for n in (1, 2)]
    store.ingest("x:mentions", mentions, None, _alert, now)
    live = Leases(store.engine, "live", TTL, clock)
    dead = Leases(store.engine, "dead", TTL, clock)
    live.beat()
    dead.beat()
    store.node = "live"
    [mine] = store.claim_due(now, limit=1)
    store.node = "dead"
    [theirs] = store.claim_due(now, limit=1)

    assert store.recover_in_flight(now) == 0  # both nodes are alive: both still sending
    clock.advance(TTL / 2)
    live.beat()
    clock.advance(TTL / 2 + timedelta(seconds=1))  # dead stopped beating

    assert store.recover_in_flight(clock.now()) == 1
    [pending] = store.outbox("pending")
    assert pending.id == theirs.id and pending.payload["maybe_repeat"] is True
    [sending] = store.outbox("sending")
    assert sending.id == mine.id


def _alert(_: Mention) -> Decision:
    return Decision(-0.5, 60, actions=(PlannedAction("alert", "r1", "staff"),))
