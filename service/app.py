"""The running service: listeners → pipeline → outbox → Telegram, on one event loop we own."""

import asyncio
import functools
import logging
import zoneinfo
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from core.clock import Clock, SystemClock
from core.leases import Leases, new_owner, source_lease
from core.states import OutboxKind
from core.store import Store
from responders.alert_format import safe_text
from responders.base import Responder, ResponderError
from responders.flood_budget import FloodBudget
from responders.guardrails import Guardrails
from responders.replies import Replies, ReplyNotes
from rules.engine import Engine
from rules.loader import ReloadRecord, RulesWatcher
from rules.schema import SpikeWindow
from rules.triage import Triage
from service.config import AppConfig
from service.metrics import Metrics
from service.node_alarms import NodeAlarms
from service.outage import DatabaseOutage
from service.outbox import OneAtATime, OutboxWorker
from service.pipeline import Pipeline
from service.platforms import PushHook, Wiring, descriptors, own_accounts
from service.polling import SourcePoller
from service.scheduler import Alarm, Job, StepsInFlight
from service.sla_policy import SlaClock
from service.windows import check_windows

if TYPE_CHECKING:  # built only when Telegram is set up (python-telegram-bot), or to run
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    from responders.telegram_alerts import TelegramAlerts
    from service.alert_messages import AlertMessages
    from service.grouping import AlertResponder
    from service.health import HealthReport
    from service.sla import SlaWatcher
    from service.telegram_runtime import TelegramApp, TelegramRuntime
    from service.workflow import AgentWorkflow

log = logging.getLogger(__name__)

WINDOWS_EVERY = timedelta(seconds=30)
RULES_EVERY = timedelta(seconds=3)  # how soon an edited rule file takes effect (a stat a file)


class Face(Protocol):
    """Something served beside the service until it stops (the web console)."""

    async def serve(self, stop: asyncio.Event) -> None: ...


@dataclass(slots=True)
class RunSummary:
    fetched: int = 0
    new: int = 0
    alerts_queued: int = 0
    delivered: int = 0
    sources: list[str] = field(default_factory=list)


class BrandPulse:
    def __init__(
        self,
        config: AppConfig,
        clock: Clock | None = None,
        store: Store | None = None,
        config_path: Path | None = None,
    ):
        """With `config_path`, edits to its rules (and included files) apply while running."""
        self.config = config
        self.clock = clock or SystemClock()
        self.store = store or Store.open(config.database.url)
        triage = Triage.from_files(config.brand.lexicons, config.brand.languages)
        self.rules_watcher = (
            RulesWatcher(config_path, lambda rules: Engine(rules, triage), model=AppConfig)
            if config_path is not None
            else None
        )
        self.engine = self.rules_watcher.engine if self.rules_watcher else Engine(config, triage)
        self.rules_reload: ReloadRecord | None = None  # the last reload, for the console
        self.own = own_accounts(config.platforms, config.brand.own_accounts)
        self.pipeline = Pipeline(self.store, self.engine, self.own)
        # Several nodes may share the database: the leases decide which one does what.
        self.store.node = new_owner()
        self.leases = Leases(
            self.store.engine, self.store.node, config.service.lease_ttl, self.clock
        )
        self.metrics = Metrics(self.store, self.clock)
        self.telegram: TelegramApp | None = None
        self.runtime: TelegramRuntime | None = None
        if config.platforms.telegram.enabled:
            from service import telegram_runtime  # python-telegram-bot: only with a bot

            self.telegram = telegram_runtime.build_application(config.platforms.telegram)
            self.runtime = telegram_runtime.TelegramRuntime(self.telegram, self.leases)
        else:
            log.info("Telegram disabled: TELEGRAM_BOT_TOKEN is not set; alerts wait in the outbox")
        wiring = Wiring(self.clock, self.telegram, config_path)
        self.pollers: list[SourcePoller] = []  # polled sources
        self.pushed: list[tuple[SourcePoller, PushHook]] = []  # sources the platform pushes to
        self._add_sources(wiring)
        self.zone = zoneinfo.ZoneInfo(config.timezone)
        self.sla = SlaClock(config.sla, config.timezone)
        self.budget = FloodBudget(self.clock, self.store, config.alerts.max_per_minute)
        self.alerts: TelegramAlerts | None = None
        self.messages: AlertMessages | None = None
        self.alert_responder: AlertResponder | None = None
        self.workflow: AgentWorkflow | None = None
        self.watcher: SlaWatcher | None = None
        if self.telegram is not None:
            self._staff_side(self.telegram)
        self.notes = ReplyNotes(self.store, self.alerts, self.clock) if self.alerts else None
        self.replies = self._replies(wiring)
        responders: list[Responder] = [] if self.alert_responder is None else [self.alert_responder]
        responders.append(
            OneAtATime(OutboxKind.REPLY, self.replies.perform, self.store, self.clock)
        )
        self.outbox = OutboxWorker(self.store, responders, self.clock)
        self._steps = StepsInFlight()
        self.outage = DatabaseOutage(self.clock)
        self._started_at = self.clock.now()
        self.alarms = NodeAlarms(self.clock, config.service, config.sla.check_every, self.outage)
        # Pushes signalled per push source, and the last of them a save covered. One counts as
        # signalled at start: what the platform pushed before the node ran waits to be saved.
        self._pushes = Counter(poller.source for poller, _push in self.pushed)
        self._pushes_saved: Counter[str] = Counter()

    def _add_sources(self, wiring: Wiring) -> None:
        """Every configured source of every platform, polled or pushed, with its poll job."""
        for platform in descriptors():
            for spec in platform.sources(self.config.platforms, wiring):
                poller = SourcePoller(
                    spec.listener,
                    self.pipeline,
                    self.store,
                    self.clock,
                    spec.every,
                    spec.backfill,
                    self.metrics,
                )
                if spec.push is None:
                    self.pollers.append(poller)
                else:
                    self.pushed.append((poller, spec.push))
                    spec.push.connect(functools.partial(self._push_job, poller, spec.push))

    def _replies(self, wiring: Wiring) -> Replies:
        """Who can post replies on which platform (replies elsewhere are recorded as skipped)."""
        platforms = self.config.platforms
        posters = {
            platform.info.key: poster
            for platform in descriptors()
            if (poster := platform.poster(platforms, wiring)) is not None
        }
        guardrails = Guardrails(self.config.replies, self.store, self.own.everywhere())
        return Replies(self.store, posters, guardrails, self.clock)

    def _staff_side(self, telegram: "TelegramApp") -> None:
        from service.staff_side import StaffContext, build_staff_side

        context = StaffContext(
            self.config, self.store, self.clock, self.budget, self.sla, self.zone, self._rule_names
        )
        staff = build_staff_side(telegram, context)
        self.alerts, self.messages, self.workflow = staff.alerts, staff.messages, staff.workflow
        self.watcher, self.alert_responder = staff.watcher, staff.alert_responder

    def _rule_names(self) -> list[str]:
        config = self.pipeline.engine.config
        return [rule.name for rule in config.rules]

    async def deliver(self) -> int:
        """Perform what is due in the outbox: alerts through noise control, then replies."""
        done = await self.outbox.drain()
        if self.notes is not None:
            await self.notes.flush()  # after the alerts, so notes can answer them
        return done

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

    async def _tell_staff_of_auth_failures(self, pollers: list[SourcePoller]) -> None:
        """Refused credentials pause a source; staff hear of it once, not at every retry."""
        if self.alerts is None:
            return
        for poller in pollers:
            if not poller.auth_failed:
                continue
            if not await asyncio.to_thread(self.store.source_problem_started, poller.source):
                continue  # told when this run of failures began
            text = (
                f"🔑 <b>{poller.source}</b>: the platform refused BrandPulse's credentials. "
                "Polling it (and its platform's other sources) is paused and retried every "
                "15 minutes; check the keys in the environment (README, Configuration)."
            )
            try:
                await self.alerts.send("staff", text)
            except ResponderError as exc:
                log.warning("could not tell staff about %s: %s", poller.source, exc)

    # --- one-shot ---------------------------------------------------------------------------

    async def run_once(self) -> RunSummary:
        """One poll of every source, the waiting button presses, then drain the outbox."""
        summary = RunSummary(sources=[p.source for p in self.pollers])
        await asyncio.to_thread(self.leases.beat)
        try:
            await self._run_once(summary)
        finally:
            await asyncio.to_thread(self.leases.release)
        return summary

    async def _run_once(self, summary: RunSummary) -> None:
        await self._recover()
        # A streamed source in a one-shot run: no connection, its gap fill is the poll.
        streamed = [poller for poller, push in self.pushed if push.run is not None]
        for poller in self.pollers + streamed:
            if not await asyncio.to_thread(self.leases.hold, source_lease(poller.source)):
                continue  # a running node polls it
            result = await poller.poll()
            if result:
                summary.fetched += result.fetched
                summary.new += len(result.new)
                summary.alerts_queued += sum(
                    len(item.decision.actions) for item in result.new if item.decision
                )
        if self.telegram is not None and self.runtime is not None:
            if not await self.runtime.open_once():
                return
            try:
                await self._tell_staff_of_auth_failures(self.pollers)
                await self.runtime.read_waiting(
                    functools.partial(self._save_pushed, summary), self.clock.now
                )
                summary.delivered = await self.deliver()
                if self.watcher is not None:
                    await self.watcher.check()
            finally:
                await self.telegram.shutdown()

    async def _recover(self) -> None:
        recovered = await asyncio.to_thread(self.store.recover_in_flight, self.clock.now())
        if recovered:
            log.warning("%d actions were in flight on a stopped node; retrying them", recovered)

    async def _save_pushed(self, summary: RunSummary) -> None:
        """One-shot: save what the push sources hold (after each page of Telegram updates)."""
        for poller, _push in self.pushed:
            result = await poller.push()
            if result is not None:
                summary.fetched += result.fetched
                summary.new += len(result.new)
                summary.alerts_queued += sum(
                    len(item.decision.actions) for item in result.new if item.decision
                )

    # --- long-running -----------------------------------------------------------------------

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
            if result.new:
                await self.deliver()  # now, not at the next drain: latency counts
            if not result.more:
                return

    async def _drain_job(self) -> None:
        async with self._steps:
            await self.deliver()
        self.alarms.drained(self.outbox.resumes_at())

    async def _rules_job(self) -> None:
        """Hot reload: new rules take over; a broken edit is refused and staff see why."""
        assert self.rules_watcher is not None
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

    def close(self) -> None:
        self.store.close()
