"""The long-running node: its jobs on their alarms (polls, drains, leases, SLA, windows, hot
reload), the streams it holds, the push timers and the daily digest, until it is stopped.

`LongRunning` is a part of `service.app.BrandPulse`, which composes what it uses; a one-shot run
(`run --once`) never calls it.
"""

import asyncio
import functools
import logging
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

from core.clock import Clock
from core.leases import Leases, source_lease
from core.store import Store
from responders.base import ResponderError
from responders.safe_html import safe_text
from rules.engine import Engine
from rules.loader import ReloadRecord, RulesWatcher
from rules.schema import SpikeWindow
from service.config import AppConfig
from service.node_alarms import NodeAlarms
from service.outage import DatabaseOutage
from service.outbox import OutboxWorker
from service.pipeline import Pipeline
from service.platforms import PushHook
from service.polling import SourcePoller
from service.scheduler import Alarm, Job, StepsInFlight
from service.windows import check_windows

if TYPE_CHECKING:
    from datetime import datetime, tzinfo

    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    from responders.telegram_alerts import TelegramAlerts
    from service.grouping import AlertResponder
    from service.health import HealthReport
    from service.sla import SlaWatcher
    from service.telegram_runtime import TelegramRuntime

log = logging.getLogger("service.app")  # the node's log lines keep the name operators know

WINDOWS_EVERY = timedelta(seconds=30)
RULES_EVERY = timedelta(seconds=3)  # how soon an edited rule file takes effect (a stat a file)


class Face(Protocol):
    """Something served beside the service until it stops (the web console)."""

    async def serve(self, stop: asyncio.Event) -> None: ...


class LongRunning:
    """The long-running half of `BrandPulse`: `run` until stopped, and the jobs it schedules."""

    # Composed by BrandPulse.__init__ (service/app.py), as are `deliver`, `_recover` and
    # `_tell_staff_of_auth_failures`, which a one-shot run uses too.
    config: AppConfig
    clock: Clock
    store: Store
    leases: Leases
    engine: Engine
    pipeline: Pipeline
    rules_watcher: RulesWatcher | None
    rules_reload: ReloadRecord | None
    runtime: "TelegramRuntime | None"
    alerts: "TelegramAlerts | None"
    alert_responder: "AlertResponder | None"
    watcher: "SlaWatcher | None"
    pollers: list[SourcePoller]
    pushed: list[tuple[SourcePoller, PushHook]]
    outbox: OutboxWorker
    outage: DatabaseOutage
    alarms: NodeAlarms
    zone: "tzinfo"
    _steps: StepsInFlight
    _started_at: "datetime"
    _pushes: Counter[str]
    _pushes_saved: Counter[str]

    async def run(self, stop: asyncio.Event, faces: Sequence[Face] = ()) -> None:
        """Poll on schedule and answer buttons until `stop` is set; finish the current step.

        `faces` (the web console) are served on the same loop until then.
        """
        await asyncio.to_thread(self.leases.beat)
        await self._recover()
        served = [asyncio.create_task(face.serve(stop)) for face in faces]
        try:
            await self._run(stop)
        finally:
            stop.set()
            await asyncio.gather(*served, return_exceptions=True)
            # Hand this node's sources over now rather than when the leases expire.
            await asyncio.to_thread(self.leases.release)

    async def health(self) -> "HealthReport":
        from service.health import collect  # asked by the console only

        service = self.config.service
        return await asyncio.to_thread(
            functools.partial(collect, source_max_age=service.source_max_age),
            self.store,
            self.clock,
            service.outbox_max_age,
        )

    async def _run(self, stop: asyncio.Event) -> None:
        from service.scheduler import new_scheduler, run_until

        scheduler = new_scheduler()
        self._staff_cron(scheduler)
        log.info(
            "BrandPulse node %s running: %s",
            self.store.node,
            ", ".join([p.source for p in self.pollers] + [p.source for p, _ in self.pushed])
            or "no sources",
        )
        jobs = self._jobs()
        streams = self._open_streams()
        try:
            if self.runtime is None:
                with self.alarms.listening(self.store.engine):
                    await run_until(scheduler, self._steps, stop, jobs)
                return
            # Telegram may be down at start: listening goes on, alerts wait in the outbox.
            telegram_up = asyncio.create_task(self.runtime.start(stop))
            try:
                with self.alarms.listening(self.store.engine):
                    await run_until(scheduler, self._steps, stop, jobs)
            finally:
                telegram_up.cancel()
                await self.runtime.stop()
        finally:
            for task in streams:
                task.cancel()
            await asyncio.gather(*streams, return_exceptions=True)

    def _jobs(self) -> list[Job]:
        """Every job of the running node on its alarm (service/node_alarms.py)."""
        alarms, clock = self.alarms, self.clock
        jobs = [alarms.job("leases", Alarm(clock, alarms.beat), self._lease_job, at_once=False)]
        for poller in self.pollers:  # first poll now
            alarm = Alarm(clock, poller.interval)
            poll = functools.partial(self._poll_job, poller, alarm)
            jobs.append(alarms.job(poller.source, alarm, poll))
        jobs.append(alarms.job("outbox", alarms.drain, self._drain_job))
        for poller, push in self.pushed:  # on a timer, to retry a failed save
            retry = functools.partial(self._push_retry_job, poller, push)
            jobs.append(alarms.job(poller.source, Alarm(clock, poller.interval), retry, False))
        if self.watcher is not None:
            jobs.append(alarms.job("sla", alarms.sla, self._sla_job))
            if self.config.windows:
                windows = Alarm(clock, WINDOWS_EVERY)
                jobs.append(alarms.job("windows", windows, self._windows_job, at_once=False))
        if self.rules_watcher is not None:  # reads no database: not guarded
            jobs.append(Job("rules", Alarm(clock, RULES_EVERY), self._rules_job, at_once=False))
        return jobs

    def _open_streams(self) -> list[asyncio.Task[None]]:
        """The connections push sources hold themselves (X's stream), each under its lease."""
        tasks = []
        for poller, push in self.pushed:
            if push.run is None:
                continue
            lease = source_lease(poller.source)

            async def hold(lease: str = lease) -> bool:
                return await asyncio.to_thread(self.leases.hold, lease)

            async def report(figures: dict[str, Any], source: str = poller.source) -> None:
                now = self.clock.now()
                await asyncio.to_thread(
                    self.store.record_stream, source, self.store.node, now, figures
                )

            tasks.append(asyncio.create_task(push.run(hold, report), name=poller.source))
        return tasks

    async def _lease_job(self) -> None:
        """Renew leases, retry the actions of nodes that died, elect the update reader."""
        async with self._steps:
            await asyncio.to_thread(self.leases.beat)
            await self._recover()
            if self.runtime is None:
                return
            await self.runtime.keep_following_updates()

    async def _poll_job(self, poller: SourcePoller, alarm: Alarm) -> None:
        async with self._steps:
            if not await asyncio.to_thread(self.leases.hold, source_lease(poller.source)):
                # Another node polls this source; its lease may lapse by the next renewal.
                alarm.by(self.clock.now() + self.alarms.beat)
                return
            await self._poll_while_due(poller)
        alarm.by(poller.next_at)

    async def _poll_while_due(self, poller: SourcePoller) -> None:
        while poller.due():
            result = await poller.poll()
            if result is None:
                await self._tell_staff_of_auth_failures([poller])
                return
            new, more = bool(result.new), result.more
            # Not held through the delivery: a catching-up poll's mentions, with their platform
            # payloads (~6 MB of objects in a 1,000-post burst), beside the alerts' own.
            del result
            if new:
                await self.deliver()  # now, not at the next drain: latency counts
            if not more:
                return

    async def _drain_job(self) -> None:
        async with self._steps:
            await self.deliver()
        self.alarms.drained(self.outbox.resumes_at())

    async def _rules_job(self) -> None:
        """Hot reload: new rules take over; a broken edit is refused and staff see why."""
        assert self.rules_watcher is not None
        # The stamps are read on the loop: a stat of a few local files costs microseconds, and
        # a hop to a worker thread and back every 3 s was a fifth of an idle node's loop
        # wakeups. Only reading and compiling changed files goes to a thread.
        if not self.rules_watcher.changed():
            return
        result = await asyncio.to_thread(self.rules_watcher.check)
        if result.changed:
            self.rules_reload = ReloadRecord(self.clock.now(), result.problems)
        if result.engine is not None:
            self.engine = self.pipeline.engine = result.engine
            reloaded = result.engine.config
            for _poller, push in self.pushed:
                if push.reconfigure is not None and isinstance(reloaded, AppConfig):
                    await push.reconfigure(reloaded.platforms)  # X's stream rules follow
        elif result.problems and self.alerts is not None:
            problems = "\n".join(str(problem) for problem in result.problems[:20])
            text = (
                "⚠️ <b>Rule change refused</b>; the previous rules stay in force.\n"
                f"<pre>{safe_text(problems, 3000)}</pre>"
            )
            try:
                await self.alerts.send("staff", text)
            except ResponderError as exc:
                log.warning("could not tell staff about the refused rule change: %s", exc)

    def _staff_cron(self, scheduler: "AsyncIOScheduler") -> None:
        """The daily digest, when Telegram is set up and a time is configured."""
        digest = self.config.reports.digest_at
        if self.watcher is None or not digest:
            return
        hour, minute = (int(part) for part in digest.split(":"))
        scheduler.add_job(
            self.outage.guard(self._digest_job),
            "cron",
            hour=hour,
            minute=minute,
            timezone=self.config.timezone,
            id="digest",
            max_instances=1,
            coalesce=True,
        )

    async def _sla_job(self) -> None:
        assert self.watcher is not None
        async with self._steps:
            await self.watcher.check()
        self.alarms.sla.by(self.watcher.next_check)

    async def _windows_job(self) -> None:
        """Window rules that fire become one alert per episode; spikes inhibit their rules."""
        assert self.alert_responder is not None
        async with self._steps:
            windows = self.pipeline.engine.config.windows
            fired = await asyncio.to_thread(
                check_windows, self.store, windows, self.clock.now(), self._started_at
            )
            inhibits = {
                w.name: list(w.when.rules) or ["*"] for w in windows if isinstance(w, SpikeWindow)
            }
            await self.alert_responder.raise_windows(fired, inhibits)

    async def _digest_job(self) -> None:
        async with self._steps:
            await self.send_digest()

    async def send_digest(self) -> bool:
        """The last 24 hours in the staff chat (the daily digest); False if it could not go."""
        if self.alerts is None:
            return False
        from service.report import build_report, digest_text  # once a day, if at all

        now = self.clock.now()
        report = await asyncio.to_thread(
            build_report, self.store, now - timedelta(days=1), now, self.zone
        )
        text = digest_text(report, f"Daily digest, {self.config.brand.name}: last 24 h")
        try:
            await self.alerts.send(self.config.reports.digest_route, text)
        except ResponderError as exc:
            log.warning("daily digest not sent: %s", exc)
            return False
        return True

    async def _push_job(self, poller: SourcePoller, push: PushHook) -> None:
        """Save what a push source holds, then deliver its actions: when pushed, and on a timer
        to retry a failed save (`_push_retry_job`).

        Long-running only: a one-shot run saves them page by page as it reads the updates.
        """
        self._pushes[poller.source] += 1
        signal = self._pushes[poller.source]
        if not push.live():
            return
        async with self._steps:
            result = await poller.push()
            if result is None:
                return  # the listener failed: the timer tries again
            # What was pushed up to `signal` was held by the listener when it was read: saved.
            self._pushes_saved[poller.source] = max(self._pushes_saved[poller.source], signal)
            if result.new:
                await self.deliver()

    async def _push_retry_job(self, poller: SourcePoller, push: PushHook) -> None:
        """The timer: save again only when a push was not saved (the bot not running yet, the
        database or the listener failing), so an idle node does no work here."""
        if self._pushes_saved[poller.source] < self._pushes[poller.source]:
            await self._push_job(poller, push)
