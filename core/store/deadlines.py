"""What the SLA watcher reads: alerts whose first-response clock still runs."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from core.models import AlertRow, MentionRow, OutboxRow
from core.states import FINAL_STATES, Delivery
from core.store._db import StoreBase

# Older alerts are left alone: a deadline a month gone is history, not work.
WATCH_FOR = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class WatchedAlert:
    """An alert with its own message, its mention, and the payload of the action that sent it."""

    alert: AlertRow
    mention: MentionRow | None
    payload: dict[str, Any]


class Deadlines(StoreBase):
    def watched_alerts(self, now: datetime) -> list[WatchedAlert]:
        """Alerts with their own message that may still need the watcher, soonest due first."""
        with Session(self.engine) as session:
            query = (
                select(AlertRow, MentionRow, OutboxRow.payload)
                .outerjoin(MentionRow, MentionRow.id == AlertRow.mention_id)
                .outerjoin(OutboxRow, OutboxRow.id == AlertRow.outbox_id)
                .where(
                    AlertRow.delivery == Delivery.SENT,
                    AlertRow.message_id > 0,
                    AlertRow.state.not_in(FINAL_STATES),
                    AlertRow.due_at.is_not(None),
                    (AlertRow.answered_at.is_(None)) | (AlertRow.snoozed_until.is_not(None)),
                    AlertRow.created_at > now - WATCH_FOR,
                )
                .order_by(AlertRow.due_at)
            )
            return [
                WatchedAlert(alert, mention, dict(payload or {}))
                for alert, mention, payload in session.execute(query)
            ]
