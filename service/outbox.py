"""The one outbox drain: every responder's due actions, in order, each performed once.

A responder that must wait (Telegram's flood control, a platform down, a chat's minute budget)
pauses its kind of action until the retry time; the actions queued behind it are handed back in
order, so nothing overtakes and nothing is lost. The other kinds go on.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from core.clock import Clock
from core.store import OutboxItem, Store
from responders.base import Outcome, Responder, ResponderError, Settled

log = logging.getLogger(__name__)


class OutboxWorker:
    def __init__(self, store: Store, responders: Sequence[Responder], clock: Clock):
        self.store = store
        self.responders = tuple(responders)
        self.clock = clock
        self._lock = asyncio.Lock()
        self.paused_until: dict[str, datetime] = {}
        self.problem: dict[str, str] = {}

    def paused(self, kind: str) -> bool:
        until = self.paused_until.get(kind)
        return until is not None and self.clock.now() < until

    def resumes_at(self) -> datetime | None:
        """When the first paused kind may go on (its retry time), None when none is paused."""
        now = self.clock.now()
        return min((until for until in self.paused_until.values() if until > now), default=None)

    async def drain(self) -> int:
        """Perform due actions until none is left or every kind is paused; count those done."""
        done = 0
        async with self._lock:  # one drain at a time, so actions leave in the order queued
            for responder in self.responders:
                done += await self._drain_kind(responder)
                if not self.paused(responder.kind):
                    await responder.flush()
        return done

    async def _drain_kind(self, responder: Responder) -> int:
        done = 0
        kind = responder.kind
        while not self.paused(kind):
            now = self.clock.now()
            items = await asyncio.to_thread(
                self.store.claim_due, now, responder.batch_size, [kind], responder.reads_raw
            )
            if not items:
                break
            settled = await responder.perform(items)
            done += settled.done
            if settled.retry_at is not None:
                await self._pause(kind, settled)
                break
            if self.problem.pop(kind, None):
                log.info("%s delivery recovered", kind)
            if len(items) < responder.batch_size:
                break
        return done

    async def _pause(self, kind: str, settled: Settled) -> None:
        assert settled.retry_at is not None
        self.paused_until[kind] = settled.retry_at
        await asyncio.to_thread(self.store.release, list(settled.unattempted), settled.retry_at)
        if settled.problem:
            if kind not in self.problem:
                log.warning("%s delivery failing: %s (retrying)", kind, settled.problem)
            self.problem[kind] = settled.problem


class OneAtATime:
    """A responder of single actions (a reply is one post) as the drain hosts it."""

    reads_raw = True  # a poster may need the payload (the Telegram message's topic)

    def __init__(
        self,
        kind: str,
        perform: Callable[[OutboxItem], Awaitable[Outcome]],
        store: Store,
        clock: Clock,
        batch_size: int = 50,
    ):
        self.kind = kind
        self.batch_size = batch_size
        self._perform = perform
        self.store = store
        self.clock = clock

    async def perform(self, items: Sequence[OutboxItem]) -> Settled:
        for index, item in enumerate(items):
            try:
                outcome = await self._perform(item)
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
                    continue
                rest = tuple(later.id for later in items[index + 1 :])
                return Settled(index, exc.retry_at, rest, str(exc))
            await asyncio.to_thread(self.store.mark_sent, item.id, self.clock.now(), outcome.ref)
        return Settled(len(items))

    async def flush(self) -> None:
        return None
