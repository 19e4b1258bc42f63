"""The node hears its own writes of work for the drain and the SLA watcher, from any thread."""

import asyncio
from datetime import UTC, datetime, timedelta

from core.clock import FakeClock
from core.leases import Leases
from core.store import Store
from service.outbox_wakeup import listen_for_work


async def test_writes_of_work_wake_the_node_and_bookkeeping_does_not(database_url: str) -> None:
    store = Store.open(database_url)
    woken: list[int] = []
    stop_listening = listen_for_work(
        store.engine, asyncio.get_running_loop(), lambda: woken.append(1)
    )
    try:
        leases = Leases(store.engine, "node-a", timedelta(seconds=30), FakeClock())
        now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
        # The callback is queued before the thread's result, so it has run once this returns.
        await asyncio.to_thread(leases.beat)
        await asyncio.to_thread(store.record_poll, "x:mentions", "node-a", now, "")
        assert woken == []  # a heartbeat and a poll's bookkeeping are no work
        await asyncio.to_thread(store.spend_telegram, "-1001", now, None)
        assert woken  # a send: the chat's minute budget changed
    finally:
        stop_listening()
    count = len(woken)
    await asyncio.to_thread(store.spend_telegram, "-1001", now, None)
    assert len(woken) == count  # no longer listening
    store.close()
