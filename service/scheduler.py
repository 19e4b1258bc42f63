"""The clock of the long-running service: jobs that sleep until they are due or woken, the
daily cron jobs (APScheduler), and a stop that lets steps finish."""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from core.clock import Clock

if TYPE_CHECKING:  # APScheduler is imported only by a long-running node (`new_scheduler`)
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = logging.getLogger(__name__)

Step = Callable[[], Awaitable[None]]


class StepsInFlight:
    """Counts the scheduled steps running now, so a graceful stop can wait for them."""

    def __init__(self) -> None:
        self._count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    async def __aenter__(self) -> None:
        self._count += 1
        self._idle.clear()

    async def __aexit__(self, *_exc: object) -> None:
        self._count -= 1
        if self._count == 0:
            self._idle.set()

    async def idle(self) -> None:
        await self._idle.wait()


class Alarm:
    """When a job runs next: the soonest moment its last run named (`by`), `longest` after that
    run began at the latest, or as soon as something rings (new work arrived).

    A node with nothing to do then sleeps until its next poll, deadline or lease renewal
    instead of waking every second to find nothing (issue 19). Runs are at least `spacing`
    apart, so a burst of rings costs one more run, not one a ring. Moments are on the
    service's clock; the sleeps between them are real time.
    """

    def __init__(self, clock: Clock, longest: timedelta, spacing: timedelta = timedelta(0)):
        self.clock = clock
        self.longest = longest
        self.spacing = spacing
        self._rung = asyncio.Event()
        self._next = clock.now()

    def ring(self) -> None:
        """Run the job soon (on the event loop's thread)."""
        self._rung.set()

    def by(self, moment: datetime | None) -> None:
        """From the job's own run: run again no later than `moment` (None adds nothing)."""
        if moment is not None and moment < self._next:
            self._next = moment

    async def keep(self, name: str, step: Step, stop: asyncio.Event, at_once: bool) -> None:
        """Run `step` on this alarm until `stop` is set (and this alarm rung to notice it)."""
        loop = asyncio.get_running_loop()
        if not at_once:  # its first run one `longest` from now
            await _wait(self._rung, self.longest.total_seconds())
        while not stop.is_set():
            began = loop.time()
            self._rung.clear()
            self._next = self.clock.now() + self.longest
            try:
                await step()
            except Exception:  # as APScheduler did: log it, and the job runs again when due
                log.exception("job %s failed", name)
            if stop.is_set():
                return
            await _wait(self._rung, (self._next - self.clock.now()).total_seconds())
            await _wait(stop, began + self.spacing.total_seconds() - loop.time())


async def _wait(event: asyncio.Event, seconds: float) -> None:
    """Until `event` is set or `seconds` have passed."""
    if event.is_set() or seconds <= 0:
        return
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await event.wait()


@dataclass(frozen=True, slots=True)
class Job:
    name: str
    alarm: Alarm
    step: Step
    at_once: bool = True  # False: the first run one `alarm.longest` after start


def new_scheduler() -> "AsyncIOScheduler":
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    return AsyncIOScheduler(timezone="UTC")


async def run_until(
    scheduler: "AsyncIOScheduler",
    steps: StepsInFlight,
    stop: asyncio.Event,
    jobs: Sequence[Job],
) -> None:
    """Run the jobs, each on its alarm, and the scheduler's cron jobs until `stop` is set."""
    scheduler.start()
    kept = [
        asyncio.create_task(job.alarm.keep(job.name, job.step, stop, job.at_once), name=job.name)
        for job in jobs
    ]
    try:
        await stop.wait()
    finally:
        # Start nothing new and let a step under way finish; only then shut APScheduler
        # down, since shutting its executor down cancels running jobs.
        stop.set()  # also when cancelled: the jobs' loops end with it
        scheduler.pause()
        for job in jobs:
            job.alarm.ring()
        await asyncio.gather(*kept, return_exceptions=True)
        await steps.idle()
        scheduler.shutdown(wait=False)
