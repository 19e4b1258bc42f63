"""The running service: listeners → pipeline → outbox → Telegram, on one event loop we own."""

import asyncio
import contextlib
import logging
import zoneinfo
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from telegram import Update
from telegram.error import InvalidToken, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from core.clock import Clock, SystemClock
from core.leases import Leases, new_owner, source_lease
from core.retry import backoff
from core.states import OutboxKind
from core.store import Store
from listeners.base import Listener, ListenerAuthFailed, ListenerError
from listeners.reddit import RedditClient, make_reddit, reddit_sources
from listeners.telegram import TelegramListener, read_waiting_updates
from listeners.x import XListener, make_client
from responders.alert_format import safe_text
from responders.base import Responder, ResponderError
from responders.guardrails import Guardrails
from responders.replies import (
    Poster,
    RedditPoster,
    Replies,
    ReplyNotes,
    TelegramPoster,
    XPoster,
)
from responders.telegram_alerts import FloodBudget, TelegramAlerts
from rules.engine import Engine
from rules.loader import RulesWatcher
from rules.schema import SpikeWindow
from rules.triage import Triage
from service.alert_messages import AlertMessages
from service.alert_views import AlertViews
from service.commands import StaffCommands
from service.config import AppConfig
from service.grouping import AlertResponder
from service.health import HealthReport, HealthServer, collect
from service.metrics import Metrics
from service.outbox import OneAtATime, OutboxWorker
from service.pipeline import Pipeline
from service.polling import SourcePoller
from service.report import build_report, digest_text
from service.sla import SlaClock, SlaWatcher
from service.staff_buttons import StaffButtons
from service.windows import check_windows
from service.workflow import AgentWorkflow

log = logging.getLogger(__name__)

TICK = timedelta(seconds=1)
WINDOWS_EVERY = timedelta(seconds=30)
RULES_EVERY = timedelta(seconds=3)  # how soon an edited rule file takes effect
# Staff handlers (buttons, replies to alerts, commands) get their own handler group, so a
# listener's catch-all group-message handler in group 0 never shadows them, nor they it.
STAFF_HANDLERS = 1
# Telegram hands each update to one getUpdates caller: with several nodes, one reads them.
UPDATES_LEASE = "telegram:updates"
# Group messages are pushed and saved as they arrive; this job only retries a failed save.
TELEGRAM_GROUPS_EVERY = timedelta(seconds=30)


@dataclass(slots=True)
class RunSummary:
    fetched: int = 0
    new: int = 0
    alerts_queued: int = 0
    delivered: int = 0
    sources: list[str] = field(default_factory=list)


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
        self.pipeline = Pipeline(self.store, self.engine)
        # Several nodes may share the database: the leases decide which one does what.
        self.store.node = new_owner()
        self.leases = Leases(
            self.store.engine, self.store.node, config.service.lease_ttl, self.clock
        )
        self.metrics = Metrics(self.store, self.clock)
        self.pollers = [
            SourcePoller(
                listener, self.pipeline, self.store, self.clock, interval, backfill, self.metrics
            )
            for listener, interval, backfill in self._listeners()
        ]
        self.telegram = self._telegram_app()
        self.zone = zoneinfo.ZoneInfo(config.timezone)
        self.sla = SlaClock(config.sla, config.timezone)
        self.budget = FloodBudget(self.clock, config.alerts.max_per_minute)
        self.alerts: TelegramAlerts | None = None
        self.messages: AlertMessages | None = None
        self.alert_responder: AlertResponder | None = None
        self.workflow: AgentWorkflow | None = None
        self.watcher: SlaWatcher | None = None
        self.replies = Replies(self.store, self._posters(), self._guardrails(), self.clock)
        responders: list[Responder] = []
        if self.telegram is not None:
            responders.append(self._staff_side(self.telegram))
        responders.append(
            OneAtATime(OutboxKind.REPLY, self.replies.perform, self.store, self.clock)
        )
        self.outbox = OutboxWorker(self.store, responders, self.clock)
        self._telegram_groups_lock = asyncio.Lock()
        self.telegram_groups = self._telegram_listener()
        self.notes = ReplyNotes(self.store, self.alerts, self.clock) if self.alerts else None
        self._steps = StepsInFlight()
        self._started_at = self.clock.now()

    def _staff_side(self, telegram: Application) -> AlertResponder:
        """Alerts, the agent workflow, the SLA watcher and staff commands in the staff chats."""
        config = self.config
        bot_config = config.platforms.telegram
        saved = config.alerts.saved_replies
        self.alerts = TelegramAlerts(bot_config, telegram.bot, self.budget)
        views = AlertViews(self.store, self.clock, [reply.name for reply in saved], self.zone)
        self.messages = AlertMessages(views, self.alerts, self.store, self.clock)
        self.workflow = AgentWorkflow(self.store, self.messages, self.clock, saved, self.zone)
        self.watcher = SlaWatcher(
            self.store, self.messages, self.budget, self.sla, self.clock, self.zone
        )
        commands = StaffCommands(
            self.store, bot_config, self.budget, self.clock, self._rule_names, self.zone
        )
        buttons = StaffButtons(self.store, self.workflow, bot_config)
        for handler in (
            CallbackQueryHandler(buttons.on_button),
            MessageHandler(filters.REPLY & filters.TEXT & ~filters.COMMAND, buttons.on_reply),
            CommandHandler("queue", commands.queue),
            CommandHandler("stats", commands.stats),
            CommandHandler("mute", commands.mute),
        ):
            telegram.add_handler(handler, group=STAFF_HANDLERS)
        self.alert_responder = AlertResponder(
            self.store, self.messages, config.alerts, self.clock, self.sla.deadlines
        )
        return self.alert_responder

    def _listeners(self) -> list[tuple[Listener, timedelta, timedelta]]:
        return self._x_listeners() + self._reddit_listeners()

    def _x_listeners(self) -> list[tuple[Listener, timedelta, timedelta]]:
        x = self.config.platforms.x
        if not x.enabled:
            log.info("X listener disabled: X_BEARER_TOKEN is not set")
            return []
        client = make_client(x)
        now = self.clock.now
        sources = [XListener("x:mentions", x, client, clock=now)] if x.mentions else []
        sources += [
            XListener(f"x:search:{s.name}", x, client, query=s.query, clock=now) for s in x.searches
        ]
        return [(source, x.poll_every, x.backfill) for source in sources]

    def _reddit_listeners(self) -> list[tuple[Listener, timedelta, timedelta]]:
        reddit = self.config.platforms.reddit
        if not reddit.enabled:
            log.info("Reddit listener disabled: REDDIT_CLIENT_ID is not set")
            return []
        client = RedditClient(reddit, self.clock.now)
        sources = reddit_sources(reddit, client, self.clock.now)
        return [(source, reddit.poll_every, reddit.backfill) for source in sources]

    def _telegram_listener(self) -> SourcePoller | None:
        """Group mentions, fed by the one Application that also serves the staff buttons."""
        groups, bot = self.config.platforms.telegram_groups, self.config.platforms.telegram
        if self.telegram is None or not groups.listening:
            return None
        staff = {route.chat_id for route in bot.routes.values()}
        if bot.alert_chat_id is not None:
            staff.add(bot.alert_chat_id)
        listener = TelegramListener(groups, _bot_id(bot.bot_token.get_secret_value()), staff)
        # Interval 0: a pushed message is saved at once, whenever it comes.
        poller = SourcePoller(
            listener,
            self.pipeline,
            self.store,
            self.clock,
            timedelta(0),
            groups.backfill,
            self.metrics,
        )
        self.telegram.add_handler(listener.handler(self._telegram_groups_job))
        return poller

    def _posters(self) -> dict[str, Poster]:
        """Who can post replies on which platform (replies elsewhere are recorded as skipped)."""
        x, reddit = self.config.platforms.x, self.config.platforms.reddit
        posters: dict[str, Poster] = {}
        if x.can_post:
            posters["x"] = XPoster(make_client(x), x.account, self.clock)
        if reddit.enabled and reddit.has_account:
            posters["reddit"] = RedditPoster(make_reddit(reddit), reddit.username, self.clock)
        if self.telegram is not None:
            posters["telegram"] = TelegramPoster(self.telegram.bot, "the bot", self.clock)
        return posters

    def _guardrails(self) -> Guardrails:
        platforms = self.config.platforms
        own = [platforms.x.account, platforms.reddit.username]
        if self.telegram is not None:
            own.append(str(_bot_id(platforms.telegram.bot_token.get_secret_value())))
        return Guardrails(self.config.replies, self.store, own)

    def _telegram_app(self) -> Application | None:
        telegram = self.config.platforms.telegram
        if not telegram.enabled:
            log.info("Telegram disabled: TELEGRAM_BOT_TOKEN is not set; alerts wait in the outbox")
            return None
        return (
            Application.builder()
            .token(telegram.bot_token.get_secret_value())
            .base_url(f"{telegram.api_base}/bot")
            .base_file_url(f"{telegram.api_base}/file/bot")
            .rate_limiter(AIORateLimiter(max_retries=3))
            .build()
        )

    def _rule_names(self) -> list[str]:
        config = self.pipeline.engine.config
        return [rule.name for rule in config.rules]

    async def deliver(self) -> int:
        """Perform what is due in the outbox: alerts through noise control, then replies."""
        done = await self.outbox.drain()
        if self.notes is not None:
            await self.notes.flush()  # after the alerts, so notes can answer them
        return done

    async def _telegram_groups_job(self) -> None:
        """Save the group mentions the Telegram listener holds, then deliver their actions.

        Long-running only: a one-shot run saves them page by page as it reads the updates.
        """
        poller = self.telegram_groups
        if poller is None or self.telegram is None or not self.telegram.running:
            return
        async with self._steps:
            async with self._telegram_groups_lock:
                result = await poller.poll()
            if result is not None and result.new:
                await self.deliver()

    async def _tell_staff_of_auth_failures(self, pollers: list[SourcePoller]) -> None:
        """Refused credentials pause a source; staff hear of it once, not at every retry."""
        if self.alerts is None:
            return
        for poller in pollers:
            if poller.problem is not ListenerAuthFailed:
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
        for poller in self.pollers:
            if not await asyncio.to_thread(self.leases.hold, source_lease(poller.source)):
                continue  # a running node polls it
            result = await poller.poll()
            if result:
                summary.fetched += result.fetched
                summary.new += len(result.new)
                summary.alerts_queued += sum(
                    len(item.decision.actions) for item in result.new if item.decision
                )
        if self.telegram is not None:
            try:
                await self.telegram.initialize()
            except TelegramError as exc:
                log.warning("Telegram unreachable (%s): alerts stay in the outbox", exc)
                return
            try:
                await self._tell_staff_of_auth_failures(self.pollers)
                if await asyncio.to_thread(self.leases.hold, UPDATES_LEASE):
                    await self._process_waiting_updates(summary)
                summary.delivered = await self.deliver()
                if self.watcher is not None:
                    await self.watcher.check()
            finally:
                await self.telegram.shutdown()

    async def _recover(self) -> None:
        recovered = await asyncio.to_thread(self.store.recover_in_flight, self.clock.now())
        if recovered:
            log.warning("%d actions were in flight on a stopped node; retrying them", recovered)

    async def _process_waiting_updates(self, summary: RunSummary) -> None:
        """Button presses, staff replies and group mentions waiting at Telegram right now.

        Each page is processed, its group mentions saved, and only then confirmed.
        """
        assert self.telegram is not None

        async def save_page() -> None:
            poller = self.telegram_groups
            if poller is None:
                return
            async with self._telegram_groups_lock:
                result = await poller.poll()
            if result is not None:
                summary.fetched += result.fetched
                summary.new += len(result.new)
                summary.alerts_queued += sum(
                    len(item.decision.actions) for item in result.new if item.decision
                )

        try:
            await read_waiting_updates(self.telegram, save_page, self.clock.now)
        except ListenerError as exc:
            log.warning("could not read Telegram updates (%s); they wait for the next run", exc)

    # --- long-running -----------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Poll on schedule and answer buttons until `stop` is set; finish the current step."""
        await asyncio.to_thread(self.leases.beat)
        await self._recover()
        server = None
        if self.config.service.http_port is not None:
            server = HealthServer(
                self.config.service.http_host,
                self.config.service.http_port,
                self.health,
                self.metrics,
            )
            await server.start()
        try:
            await self._run(stop)
        finally:
            if server is not None:
                await server.stop()
            # Hand this node's sources over now rather than when the leases expire.
            await asyncio.to_thread(self.leases.release)

    async def health(self) -> HealthReport:
        max_age = self.config.service.outbox_max_age
        return await asyncio.to_thread(collect, self.store, self.clock, max_age)

    async def _run(self, stop: asyncio.Event) -> None:
        scheduler = AsyncIOScheduler(timezone="UTC")
        beat = max(1.0, self.config.service.lease_ttl.total_seconds() / 3)
        scheduler.add_job(
            self._lease_job, "interval", seconds=beat, max_instances=1, coalesce=True, id="leases"
        )
        for poller in self.pollers:
            tick = min(TICK, poller.interval)
            scheduler.add_job(
                self._poll_job,
                "interval",
                seconds=tick.total_seconds(),
                args=[poller],
                max_instances=1,
                coalesce=True,
                id=poller.source,
                next_run_time=None,
            )
        scheduler.add_job(
            self._drain_job,
            "interval",
            seconds=self.config.service.outbox_every.total_seconds(),
            max_instances=1,
            coalesce=True,
            id="outbox",
        )
        if self.telegram_groups is not None:
            scheduler.add_job(
                self._telegram_groups_job,
                "interval",
                seconds=TELEGRAM_GROUPS_EVERY.total_seconds(),
                max_instances=1,
                coalesce=True,
                id="telegram:groups",
            )
        self._staff_jobs(scheduler)
        if self.rules_watcher is not None:
            scheduler.add_job(
                self._rules_job,
                "interval",
                seconds=RULES_EVERY.total_seconds(),
                id="rules",
                max_instances=1,
                coalesce=True,
            )
        log.info(
            "BrandPulse node %s running: %s",
            self.store.node,
            ", ".join(p.source for p in self.pollers) or "no sources",
        )
        if self.telegram is None:
            await self._scheduled(scheduler, stop)
            return
        # Telegram may be down at start: listening goes on, alerts wait in the outbox.
        telegram_up = asyncio.create_task(self._start_telegram(stop))
        try:
            await self._scheduled(scheduler, stop)
        finally:
            telegram_up.cancel()
            await self._stop_telegram()

    async def _start_telegram(self, stop: asyncio.Event) -> None:
        assert self.telegram is not None and self.telegram.updater is not None
        attempt = 0
        while not stop.is_set():
            try:
                await self.telegram.initialize()
                await self.telegram.start()
                await self._follow_updates()
                if attempt:
                    log.info("Telegram reachable again")
                return
            except InvalidToken:
                log.error("Telegram refused TELEGRAM_BOT_TOKEN: alerts wait in the outbox")
                return
            except TelegramError as exc:
                if attempt == 0:
                    log.warning("Telegram unreachable (%s): retrying in the background", exc)
                attempt += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), backoff(attempt).total_seconds())

    async def _stop_telegram(self) -> None:
        assert self.telegram is not None and self.telegram.updater is not None
        if self.telegram.updater.running:
            await self.telegram.updater.stop()
        if self.telegram.running:
            await self.telegram.stop()
        await self.telegram.shutdown()

    async def _scheduled(self, scheduler: AsyncIOScheduler, stop: asyncio.Event) -> None:
        scheduler.start()
        for poller in self.pollers:  # first poll now, not one tick from now
            scheduler.modify_job(poller.source, next_run_time=self.clock.now())
        try:
            await stop.wait()
        finally:
            # Start nothing new and let a poll or drain under way finish its step; only then
            # shut down, since shutting APScheduler's executor down cancels running jobs.
            scheduler.pause()
            await self._steps.idle()
            scheduler.shutdown(wait=False)

    async def _lease_job(self) -> None:
        """Renew leases, retry the actions of nodes that died, elect the update reader."""
        async with self._steps:
            await asyncio.to_thread(self.leases.beat)
            await self._recover()
            try:
                await self._follow_updates()
            except TelegramError as exc:
                log.warning("Telegram updates not followed (%s); retrying", exc)

    async def _follow_updates(self) -> None:
        """Read Telegram updates (button presses, replies) on the node holding their lease only."""
        telegram = self.telegram
        if telegram is None or telegram.updater is None or not telegram.running:
            return
        reader = await asyncio.to_thread(self.leases.hold, UPDATES_LEASE)
        if reader and not telegram.updater.running:
            await telegram.updater.start_polling(allowed_updates=Update.ALL_TYPES)
        elif not reader and telegram.updater.running:
            await telegram.updater.stop()

    async def _poll_job(self, poller: SourcePoller) -> None:
        async with self._steps:
            if not await asyncio.to_thread(self.leases.hold, source_lease(poller.source)):
                return  # another node polls this source
            while poller.due():
                result = await poller.poll()
                if result is None:
                    await self._tell_staff_of_auth_failures([poller])
                    return
                if result.new:
                    await self.deliver()  # now, not at the next drain tick: latency counts
                if not result.more:
                    return

    async def _drain_job(self) -> None:
        async with self._steps:
            await self.deliver()

    async def _rules_job(self) -> None:
        """Hot reload: new rules take over; a broken edit is refused and staff see why."""
        assert self.rules_watcher is not None
        result = await asyncio.to_thread(self.rules_watcher.check)
        if result.engine is not None:
            self.engine = self.pipeline.engine = result.engine
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

    def _staff_jobs(self, scheduler: AsyncIOScheduler) -> None:
        """The SLA watcher, window rules (spikes) and the daily digest, when Telegram is set up."""
        if self.watcher is None:
            return
        common = {"max_instances": 1, "coalesce": True}
        every = self.config.sla.check_every.total_seconds()
        scheduler.add_job(self._sla_job, "interval", seconds=every, id="sla", **common)
        if self.config.windows:
            seconds = WINDOWS_EVERY.total_seconds()
            scheduler.add_job(
                self._windows_job, "interval", seconds=seconds, id="windows", **common
            )
        digest = self.config.reports.digest_at
        if digest:
            hour, minute = (int(part) for part in digest.split(":"))
            scheduler.add_job(
                self._digest_job,
                "cron",
                hour=hour,
                minute=minute,
                timezone=self.config.timezone,
                id="digest",
                **common,
            )

    async def _sla_job(self) -> None:
        assert self.watcher is not None
        async with self._steps:
            await self.watcher.check()

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


def _bot_id(token: str) -> int:
    """A bot's user id is the number before the colon of its token."""
    number = token.partition(":")[0]
    return int(number) if number.isdigit() else 0
