"""Drains the outbox: performs each due action once, in order, and records the outcome."""

import asyncio
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

from core.clock import Clock
from core.store import OutboxItem, Store
from responders.base import Outcome, ResponderError

log = logging.getLogger(__name__)


class Responder(Protocol):
    async def perform(self, item: OutboxItem) -> Outcome: ...


class OutboxWorker:
    def __init__(self, store: Store, responders: Mapping[str, Responder], clock: Clock):
        self.store = store
        self.responders = responders
        self.clock = clock
        self._lock = asyncio.Lock()
        # A failing channel (Telegram down, flood control) pauses its kind of action until the
        # retry time, so the actions queued behind the failed one keep their order.
        self.paused_until: dict[str, datetime] = {}
        self.problem: dict[str, str] = {}

    async def drain(self, batch_size: int = 50) -> int:
        """Perform due actions until none is left or every channel is paused; count those done."""
        done = 0
        async with self._lock:  # one drain at a time, so actions leave in the order queued
            while True:
                now = self.clock.now()
                kinds = [k for k in self.responders if self.paused_until.get(k, now) <= now]
                if not kinds:
                    return done
                items = await asyncio.to_thread(self.store.claim_due, now, batch_size, kinds)
                paused: set[str] = set()
                for index, item in enumerate(items):
                    if item.kind in paused:
                        continue  # handed back below, behind the action that failed
                    retry_at = await self._perform(item)
                    if retry_at is None:
                        done += 1
                        continue
                    paused.add(item.kind)
                    self.paused_until[item.kind] = retry_at
                    later = [i.id for i in items[index + 1 :] if i.kind == item.kind]
                    await asyncio.to_thread(self.store.release, later, retry_at)
                if len(items) < batch_size:
                    return done

    async def _perform(self, item: OutboxItem) -> datetime | None:
        """None when the action is done with (sent, or failed for good); else when to retry."""
        try:
            outcome = await self.responders[item.kind].perform(item)
        except ResponderError as exc:
            await asyncio.to_thread(self.store.mark_failed, item.id, str(exc), exc.retry_at)
            if exc.retry_at is None:
                log.error(
                    "%s %s for mention %s failed for good: %s",
                    item.kind,
                    item.id,
                    item.mention_id,
                    exc,
                )
                return None
            if item.kind not in self.problem:
                log.warning("%s delivery failing: %s (retrying)", item.kind, exc)
            self.problem[item.kind] = str(exc)
            return exc.retry_at
        now = self.clock.now()
        if item.kind == "alert":
            await asyncio.to_thread(
                self.store.record_alert, item, outcome.chat_id, outcome.message_id, now
            )
        else:
            await asyncio.to_thread(self.store.mark_sent, item.id, now, outcome.ref)
        if self.problem.pop(item.kind, None):
            log.info("%s delivery recovered", item.kind)
        return None
