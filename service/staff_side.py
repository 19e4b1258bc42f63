"""The staff side in Telegram: alerts, the agent workflow, the SLA watcher and staff commands.

Built only when Telegram is set up, so python-telegram-bot's handler classes (and the modules
that render alerts for it) are imported then and not by a node without a bot.
"""

import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass

from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

from core.clock import Clock
from core.store import Store
from responders.flood_budget import FloodBudget
from responders.telegram_alerts import TelegramAlerts
from service.alert_messages import AlertMessages
from service.alert_views import AlertViews
from service.commands import StaffCommands
from service.config import AppConfig
from service.grouping import AlertResponder
from service.sla import SlaWatcher
from service.sla_policy import SlaClock
from service.staff_buttons import StaffButtons
from service.telegram_runtime import TelegramApp
from service.web_command import WebCommand
from service.workflow import AgentWorkflow

# Staff handlers (buttons, replies to alerts, commands) get their own handler group, so a
# listener's catch-all group-message handler in group 0 never shadows them, nor they it.
STAFF_HANDLERS = 1


@dataclass(frozen=True, slots=True)
class StaffSide:
    alerts: TelegramAlerts
    messages: AlertMessages
    workflow: AgentWorkflow
    watcher: SlaWatcher
    alert_responder: AlertResponder


@dataclass(frozen=True, slots=True)
class StaffContext:
    """What the staff side shares with the rest of the service."""

    config: AppConfig
    store: Store
    clock: Clock
    budget: FloodBudget
    sla: SlaClock
    zone: zoneinfo.ZoneInfo
    rule_names: Callable[[], list[str]]


def build_staff_side(telegram: TelegramApp, context: StaffContext) -> StaffSide:
    """Alerts, the agent workflow, the SLA watcher and staff commands in the staff chats."""
    config, store, clock, budget, zone = (
        context.config,
        context.store,
        context.clock,
        context.budget,
        context.zone,
    )
    bot_config = config.platforms.telegram
    saved = config.alerts.saved_replies
    alerts = TelegramAlerts(bot_config, telegram.bot, budget)
    console = config.web.public_url if config.web.enabled else ""
    views = AlertViews(store, clock, [reply.name for reply in saved], zone, console)
    messages = AlertMessages(views, alerts, store, clock)
    workflow = AgentWorkflow(store, messages, clock, saved, zone)
    watcher = SlaWatcher(store, messages, budget, context.sla, clock, zone)
    commands = StaffCommands(store, bot_config, budget, clock, context.rule_names, zone)
    alert_responder = AlertResponder(store, messages, config.alerts, clock, context.sla.deadlines)
    buttons = StaffButtons(store, workflow, bot_config, alert_responder.show_each)
    web = WebCommand(store, config, budget, clock)
    for handler in (
        CallbackQueryHandler(buttons.on_button),
        MessageHandler(filters.REPLY & filters.TEXT & ~filters.COMMAND, buttons.on_reply),
        CommandHandler("queue", commands.queue),
        CommandHandler("stats", commands.stats),
        CommandHandler("mute", commands.mute),
        CommandHandler("web", web.web),
    ):
        telegram.add_handler(handler, group=STAFF_HANDLERS)
    return StaffSide(alerts, messages, workflow, watcher, alert_responder)
