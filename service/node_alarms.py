"""When the running node's jobs wake (issue 19: an idle node costs ≤ 0.1 s CPU a minute).

Each job sleeps on its alarm (service/scheduler.Alarm) until the next moment it knows of: its
next poll, the lease renewal, an outbox retry time, an SLA deadline. Work this process writes
(service/outbox_wakeup) rings the drain and the SLA watcher at once; work other nodes leave
is found when they look around, at the latest every LOOK_AROUND.
"""

import asyncio
import contextlib
from collections.abc import Iterator
from datetime import datetime, timedelta

from sqlalchemy import Engine

from core.clock import Clock
from service.config import ServiceConfig
from service.outage import DatabaseOutage
from service.outbox_wakeup import listen_for_work
from service.scheduler import Alarm, Job, Step

# The longest the drain and the SLA watcher sleep: work another node left for this one (a dead
# node's pending retries, alerts written elsewhere) is found within it.
LOOK_AROUND = timedelta(minutes=1)
# After work was written, the drain keeps looking every `service.outbox_every` this long: edits
# and posts held back for a chat's minute budget go out as the minute frees room.
LINGER = timedelta(minutes=1)


class NodeAlarms:
    def __init__(
        self, clock: Clock, service: ServiceConfig, sla_every: timedelta, outage: DatabaseOutage
    ):
        self.clock = clock
        self.outage = outage
        # Leases are renewed three times a lease: a missed beat or two costs none.
        self.beat = max(timedelta(seconds=1), service.lease_ttl / 3)
        self.drain = Alarm(clock, LOOK_AROUND, service.outbox_every)
        self.sla = Alarm(clock, LOOK_AROUND, sla_every)
        self._outbox_every = service.outbox_every
        self._worked_at: datetime | None = None  # the last write of work for drain or watcher

    def job(self, name: str, alarm: Alarm, step: Step, at_once: bool = True) -> Job:
        """`step` on `alarm` through the outage guard: a lost database pauses the jobs, it does
        not end the node, and each tries again after the outage's backoff."""
        guarded = self.outage.guard(step)

        async def run() -> None:
            await guarded()
            alarm.by(self.outage.retry_at)

        return Job(name, alarm, run, at_once)

    @contextlib.contextmanager
    def listening(self, engine: Engine) -> Iterator[None]:
        """While inside, this process's writes of work ring the drain and the watcher."""
        stop = listen_for_work(engine, asyncio.get_running_loop(), self._work_written)
        try:
            yield
        finally:
            stop()

    def drained(self, resumes_at: datetime | None) -> None:
        """After a drain: again when a paused kind may go on, and soon while work is fresh."""
        self.drain.by(resumes_at)
        now = self.clock.now()
        if self._worked_at is not None and now - self._worked_at < LINGER:
            self.drain.by(now + self._outbox_every)

    def _work_written(self) -> None:
        self._worked_at = self.clock.now()
        self.drain.ring()
        self.sla.ring()
