"""Losing the database for a while must not end the node: its jobs wait, retry, and go on.

Every scheduled job runs through `DatabaseOutage.guard`. A job that finds the database gone
(connection refused, server restarting, SQLite locked past its timeout) ends quietly; all jobs
then wait with one backoff (`core/retry.py`) before the next try. The outage is logged once
when it starts and once when the database answers again, never at every retry. Nothing is
lost meanwhile: cursors and mentions are saved together, so a batch whose save failed is
fetched again, and outbox actions stay in the outbox until they are marked sent.
"""

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import wraps
from typing import Any

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from core.clock import Clock
from core.duration import format_duration
from core.retry import backoff
from service.cli_errors import paragraph

log = logging.getLogger(__name__)

# What a lost or overloaded database raises; a programming error (IntegrityError, a bad query)
# is not an outage and still surfaces.
UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeout)

Job = Callable[..., Awaitable[None]]


class DatabaseOutage:
    def __init__(self, clock: Clock):
        self.clock = clock
        self.failures = 0
        self.since: datetime | None = None  # when the outage began; None while the database works
        self.retry_at: datetime | None = None

    @property
    def down(self) -> bool:
        return self.since is not None

    def guard(self, job: Job) -> Job:
        """`job`, skipped while waiting out an outage, and noting how the database answered."""

        @wraps(job)
        async def guarded(*args: Any) -> None:
            if self.retry_at is not None and self.clock.now() < self.retry_at:
                return
            try:
                await job(*args)
            except UNAVAILABLE as exc:
                self.failed(exc)
            else:
                self.answered()

        return guarded

    def failed(self, exc: BaseException) -> None:
        now = self.clock.now()
        self.failures += 1
        wait = backoff(self.failures)
        self.retry_at = now + wait
        cause = paragraph(str(getattr(exc, "orig", None) or exc))[:300]
        if self.since is None:
            self.since = now
            log.warning(
                "database unavailable (%s); the node keeps running and retries, next in %s",
                cause,
                format_duration(wait),
            )
        else:
            log.debug("database still unavailable (%s); next try in %s", cause, wait)

    def answered(self) -> None:
        if self.since is not None:
            lasted = format_duration(self.clock.now() - self.since)
            log.info("database reachable again after %s; jobs resume", lasted)
        self.failures, self.since, self.retry_at = 0, None, None
