"""The clock of the long-running service: APScheduler jobs, and a stop that lets steps finish."""

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # APScheduler is imported only by a long-running node (`new_scheduler`)
    from apscheduler.schedulers.asyncio import AsyncIOScheduler


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


def new_scheduler() -> "AsyncIOScheduler":
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    return AsyncIOScheduler(timezone="UTC")


def every(
    scheduler: "AsyncIOScheduler",
    job: Callable[..., Awaitable[None]],
    interval: timedelta,
    job_id: str,
    *args: Any,
    paused: bool = False,
) -> None:
    """Run `job(*args)` every `interval`, one at a time; a late run is not repeated."""
    options: dict[str, Any] = {"next_run_time": None} if paused else {}
    scheduler.add_job(
        job,
        "interval",
        seconds=interval.total_seconds(),
        args=list(args),
        max_instances=1,
        coalesce=True,
        id=job_id,
        **options,
    )


async def run_until(
    scheduler: "AsyncIOScheduler",
    steps: StepsInFlight,
    stop: asyncio.Event,
    start_now: Iterable[str],
    now: datetime,
) -> None:
    """Run the jobs until `stop` is set; the (paused) jobs `start_now` run first at `now`."""
    scheduler.start()
    for job_id in start_now:  # first poll now, not one tick from now
        scheduler.modify_job(job_id, next_run_time=now)
    try:
        await stop.wait()
    finally:
        # Start nothing new and let a poll or drain under way finish its step; only then
        # shut down, since shutting APScheduler's executor down cancels running jobs.
        scheduler.pause()
        await steps.idle()
        scheduler.shutdown(wait=False)
