"""Alert messages kept true: edit one after its state changed, answer it, escalate it.

The agent workflow, the SLA watcher and the alert responder all change alerts; this is how the
staff chat then sees the change. Database reads run off the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from core.clock import Clock
from core.models import AlertRow
from core.states import Delivery
from core.store import Store
from responders.alert_format import message_link, render_escalation
from responders.base import ResponderError

if TYPE_CHECKING:  # the staff side, built only when Telegram is set up (python-telegram-bot)
    from responders.telegram_alerts import TelegramAlerts
    from service.alert_views import AlertViews, Shown

log = logging.getLogger(__name__)


class AlertMessages:
    def __init__(self, views: AlertViews, telegram: TelegramAlerts, store: Store, clock: Clock):
        self.views = views
        self.telegram = telegram
        self.store = store
        self.clock = clock

    async def view(self, alert_id: int, maybe_repeat: bool = False) -> Shown | None:
        return await asyncio.to_thread(self.views.view, alert_id, maybe_repeat)

    async def refresh(self, alert_id: int) -> None:
        """Show the alert's current state in its message (edited in place).

        A mention counted in another alert's message (a group) has no message of its own: an
        agent working it one by one changes what that message shows, so that one is edited.
        """
        alert = await asyncio.to_thread(self.store.alert, alert_id)
        if alert is not None and alert.delivery != Delivery.SENT and alert.group_id is not None:
            alert_id = alert.group_id
        shown = await self.view(alert_id)
        if shown is None or shown.alert.message_id <= 0:
            return
        alert = shown.alert
        if await self.telegram.edit(alert.chat_id, alert.message_id, shown.text, shown.markup):
            await asyncio.to_thread(
                self.store.alert_edited, alert_id, alert.count, self.clock.now()
            )

    async def notify(self, alert: AlertRow, text: str) -> bool:
        """A short note answering the alert's message (SLA warning, snooze over)."""
        return await self.telegram.notify(alert.chat_id, alert.message_id, text)

    async def escalate(self, alert_id: int, reason: str, route_name: str) -> bool:
        """Tell the escalation route, linking the alert; without one, ping the alert's chat."""
        shown = await self.view(alert_id)
        if shown is None:
            return False
        alert = shown.alert
        if self.telegram.config.route(route_name) is None:
            return await self.notify(alert, f"⬆️ <b>{reason}</b> (no {route_name} chat set up)")
        note = render_escalation(reason, shown.text, message_link(alert.chat_id, alert.message_id))
        try:
            await self.telegram.send(route_name, note)
        except ResponderError as exc:
            log.warning("escalation of alert %s not sent: %s", alert_id, exc)
            return False
        return True
