"""The poll job every listener shares: interval, backoff, rate budget, backfill and logging.

A listener only fetches. This job decides when it may fetch again, and logs changes of state
("unavailable", "recovered") once each, never every failure.
"""

import asyncio
import logging
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from core.clock import Clock
from core.retry import backoff
from core.store import Ingested, Store
from listeners.base import (
    Batch,
    Listener,
    ListenerAuthFailed,
    ListenerError,
    ListenerUnavailable,
    RateBudget,
    RateLimited,
)
from service.pipeline import Pipeline

if TYPE_CHECKING:
    from service.metrics import Metrics

log = logging.getLogger(__name__)

AUTH_RETRY = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class PollResult:
    fetched: int
    new: list[Ingested]
    calls: int
    more: bool  # a page cap stopped the fetch: poll again as soon as the budget allows


class SourcePoller:
    def __init__(
        self,
        listener: Listener,
        pipeline: Pipeline,
        store: Store,
        clock: Clock,
        interval: timedelta,
        backfill: timedelta,
        metrics: "Metrics | None" = None,
    ):
        if metrics is None:
            from service.metrics import Metrics  # prometheus_client: only for a polled source

            metrics = Metrics()
        self.listener = listener
        self.metrics = metrics
        self.pipeline = pipeline
        self.store = store
        self.clock = clock
        self.interval = interval
        self.backfill = backfill
        self.next_at: datetime | None = None  # None: due now
        self.failures = 0
        self.failure: ListenerError | None = None  # what is wrong now, None when healthy
        self.last_success: datetime | None = None
        self.rate: RateBudget | None = None  # the platform's rate budget after the last call
        self._turn = asyncio.Lock()  # a push and a poll of one source save one after the other

    @property
    def problem(self) -> str:
        """The kind of failure now ("RateLimited"), "" when healthy."""
        return type(self.failure).__name__ if self.failure else ""

    @property
    def auth_failed(self) -> bool:
        """The platform refused the credentials: staff must look."""
        return isinstance(self.failure, ListenerAuthFailed)

    @property
    def source(self) -> str:
        return self.listener.source

    def due(self) -> bool:
        return self.next_at is None or self.clock.now() >= self.next_at

    async def poll(self) -> PollResult | None:
        """One fetch and save, or None when the source must wait (rate limit, backoff) or failed."""
        if not self.due():
            return None
        async with self._turn:
            return await self._take()

    async def push(self) -> PollResult | None:
        """Save what a push source holds now, whatever the schedule: the same path as a poll."""
        async with self._turn:
            return await self._take()

    async def _take(self) -> PollResult | None:
        started = time.monotonic()
        cursor = await asyncio.to_thread(self.store.cursor, self.source)
        try:
            batch = await self.listener.fetch(cursor)
        except ListenerError as exc:
            await self._failed(exc)
            return None
        except Exception as exc:
            # A payload shape the listener did not foresee must not end the poll job: it is an
            # outage of this source like any other (the traceback goes to the debug log).
            log.debug("%s: unexpected fetch error", self.source, exc_info=True)
            await self._failed(
                ListenerUnavailable(f"unexpected error ({type(exc).__name__}): {exc}")
            )
            return None
        now = self.clock.now()
        # First start: older mentions are stored (so never fetched again) but raise no alerts.
        triage_after = now - self.backfill if cursor is None else None
        new = await asyncio.to_thread(self.pipeline.ingest, self.source, batch, now, triage_after)
        for item in batch.skipped:
            log.warning("%s: skipped a malformed item: %s", self.source, item)
        self._succeeded(batch, now)
        self._log_poll(batch, new, now)
        self.metrics.polled(self.source, len(batch.mentions), len(new), time.monotonic() - started)
        await asyncio.to_thread(self.store.record_poll, self.source, self.store.node, now, "")
        return PollResult(len(batch.mentions), new, batch.calls, batch.more)

    def _succeeded(self, batch: Batch, now: datetime) -> None:
        if self.failure:
            log.info("%s recovered", self.source)
        self.failure, self.failures, self.last_success = None, 0, now
        self.rate = batch.rate or self.rate
        self.next_at = self._budgeted_next(batch, now)

    def _log_poll(self, batch: Batch, new: list[Ingested], now: datetime) -> None:
        """One line a poll: what came in, what it set off, and when the next poll is."""
        kinds = Counter(
            action.kind for item in new if item.decision for action in item.decision.actions
        )
        log.info(
            "%s: fetched %d, %d new, %d alerts, %d replies; next poll %s",
            self.source,
            len(batch.mentions),
            len(new),
            kinds["alert"],
            kinds["reply"],
            self._next_poll(batch, now),
        )

    def _next_poll(self, batch: Batch, now: datetime) -> str:
        wait = max(0, round(((self.next_at or now) - now).total_seconds()))
        rate = batch.rate
        if batch.more:
            return f"in {wait}s (catching up: more mentions wait behind the page cap)"
        if wait > round(self.interval.total_seconds()) and rate is not None:
            if rate.remaining <= 0:
                return f"in {wait}s (rate limit used up until {_hms(rate.reset_at)})"
            return (
                f"in {wait}s (spacing out the rate limit: {rate.remaining} calls left until "
                f"{_hms(rate.reset_at)})"
            )
        return f"in {wait}s"

    def _budgeted_next(self, batch: Batch, now: datetime) -> datetime:
        """The interval, or longer if the calls left in the rate window must be spread out.

        A page cap that left items behind asks for the next poll at once, budget permitting.
        """
        wanted = now if batch.more else now + self.interval
        rate = batch.rate
        if rate is None or rate.reset_at <= now:
            return wanted
        if rate.remaining <= 0:
            return rate.reset_at
        spacing = (rate.reset_at - now) / rate.remaining * batch.calls
        return max(wanted, now + spacing)

    async def _failed(self, exc: ListenerError) -> None:
        now = self.clock.now()
        self.metrics.failed(self.source, exc)
        self.failures += 1
        if isinstance(exc, RateLimited):
            self.next_at = max(exc.reset_at, now + timedelta(seconds=1))
            state = f"rate limited until {exc.reset_at:%H:%M:%S} UTC"
        elif isinstance(exc, ListenerAuthFailed):
            self.next_at = now + AUTH_RETRY
            state = f"{exc}; check the credentials"
        else:
            self.next_at = now + backoff(self.failures)
            state = str(exc)
        wait = round((self.next_at - now).total_seconds())
        if type(self.failure) is not type(exc):
            log.warning("%s unavailable: %s (next try %s)", self.source, state, _hms(self.next_at))
        else:  # the change of state was logged once; the retries only for --verbose
            why = "waiting for the rate limit" if isinstance(exc, RateLimited) else "backing off"
            log.debug(
                "%s: still unavailable; next poll in %ds (%s after %d failures)",
                self.source,
                wait,
                why,
                self.failures,
            )
        self.failure = exc
        await asyncio.to_thread(self.store.record_poll, self.source, self.store.node, now, state)


def _hms(moment: datetime) -> str:
    return f"{moment:%H:%M:%S} UTC"
