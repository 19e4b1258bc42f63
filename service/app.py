"""The running service: listeners → pipeline → outbox → Telegram, on one event loop we own.

`BrandPulse` composes the parts and makes one pass (`run_once`); the long-running node's jobs
are its other half, `service.node.LongRunning`.
"""

import asyncio
import functools
import logging
import zoneinfo
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from core.clock import Clock, SystemClock
from core.leases import Leases, new_owner, source_lease
from core.states import OutboxKind
from core.store import Store
from responders.base import Responder, ResponderError
from responders.flood_budget import FloodBudget
from responders.guardrails import Guardrails
from responders.replies import Replies, ReplyNotes
from rules.deferred_triage import DeferredTriage
from rules.engine import Engine
from rules.loader import ReloadRecord, RulesWatcher
from service.config import AppConfig
from service.node import LongRunning
from service.node_alarms import NodeAlarms
from service.outage import DatabaseOutage
from service.outbox import OneAtATime, OutboxWorker
from service.pipeline import Pipeline
from service.platforms import PushHook, Wiring, descriptors, own_accounts
from service.polling import SourcePoller
from service.scheduler import StepsInFlight
from service.sla_policy import SlaClock

if TYPE_CHECKING:  # built only when needed: the staff side with a bot, metrics at first use
    from responders.telegram_alerts import TelegramAlerts
    from service.alert_messages import AlertMessages
    from service.grouping import AlertResponder
    from service.metrics import Metrics
    from service.sla import SlaWatcher
    from service.telegram_runtime import TelegramApp, TelegramRuntime
    from service.workflow import AgentWorkflow

log = logging.getLogger(__name__)


@dataclass(slots=True)
class RunSummary:
    fetched: int = 0
    new: int = 0
    alerts_queued: int = 0
    delivered: int = 0
    sources: list[str] = field(default_factory=list)


class BrandPulse(LongRunning):
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
        # A bad lexicon fails the start; compiling them waits for the first mention scored.
        brand = config.brand
        triage = DeferredTriage(brand.lexicons, brand.languages, brand.names())
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

    @functools.cached_property
    def metrics(self) -> "Metrics":
        """This node's metrics, built when a source or the console first needs them: a pass
        with nothing to poll never imports prometheus_client."""
        from service.metrics import Metrics

        return Metrics(self.store, self.clock)

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

    def close(self) -> None:
        self.store.close()
