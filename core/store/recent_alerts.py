"""What the alert responder's grouping decisions read about the alerts sent lately.

One session per batch: the decisions on a page of mentions must not cost a query each.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlmodel import Session

from core.models import AlertRow, MentionRow
from core.states import FINAL_STATES
from core.store._db import StoreBase


@dataclass(frozen=True, slots=True)
class AlertSpans:
    """Since when each kind of earlier alert counts for the batch deciding at `now`."""

    inhibit: datetime  # open window alerts created after it inhibit their routes
    group: datetime  # single alerts sent after it count towards a rule's or the chat's group
    same: datetime  # single alerts sent after it count towards a content group
    realert: datetime  # alerts of a re-alert key sent after it set its back-off


@dataclass(frozen=True, slots=True)
class RecentAlerts:
    windows: list[AlertRow]  # open window alerts with a message, created after spans.inhibit
    groups: list[AlertRow]  # open groups of the routes, last counted after the earlier span
    singles: dict[str, int]  # group_key → single alerts sent after spans.group
    said: list[tuple[str, MentionRow]]  # (route, mention) of single alerts after spans.same
    lately: dict[str, int]  # route → single alerts sent in the minute before the batch
    by_key: list[AlertRow]  # sent alerts of the batch's re-alert keys, oldest first
    suppressed: dict[str, int]  # route → muted or inhibited since its last sent message
    unsent: list[AlertRow]  # the batch's own alerts written but whose message is not out


class RecentAlertsQueries(StoreBase):
    def recent_alerts(
        self,
        routes: Iterable[str],
        keys: Iterable[str],
        outbox_ids: Iterable[int],
        now: datetime,
        spans: AlertSpans,
    ) -> RecentAlerts:
        routes, keys = set(routes), set(keys)
        open_states = AlertRow.state.not_in(FINAL_STATES)
        single_sent = (
            AlertRow.kind == "mention",
            AlertRow.delivery == "sent",
            AlertRow.route.in_(routes),
        )
        with Session(self.engine) as session:
            windows = select(AlertRow).where(
                AlertRow.kind == "window",
                AlertRow.message_id > 0,
                open_states,
                AlertRow.created_at > spans.inhibit,
            )
            groups = (
                select(AlertRow)
                .where(
                    AlertRow.kind == "group",
                    AlertRow.route.in_(routes),
                    open_states,
                    AlertRow.last_at > min(spans.group, spans.same),
                )
                .order_by(AlertRow.id)
            )
            singles = (
                select(AlertRow.group_key, func.count())
                .where(*single_sent, AlertRow.created_at > spans.group)
                .group_by(AlertRow.group_key)
            )
            said = (
                select(AlertRow.route, MentionRow)
                .join(MentionRow, MentionRow.id == AlertRow.mention_id)
                .where(*single_sent, AlertRow.created_at > spans.same)
            )
            lately = (
                select(AlertRow.route, func.count())
                .where(*single_sent, AlertRow.created_at > now - timedelta(minutes=1))
                .group_by(AlertRow.route)
            )
            by_key = (
                select(AlertRow)
                .where(
                    AlertRow.key.in_(keys),
                    AlertRow.delivery == "sent",
                    AlertRow.created_at > spans.realert,
                )
                .order_by(AlertRow.id)
            )
            unsent = select(AlertRow).where(
                AlertRow.outbox_id.in_(list(outbox_ids)),
                AlertRow.message_id == 0,
                AlertRow.delivery == "sent",
            )
            return RecentAlerts(
                windows=list(session.scalars(windows)),
                groups=list(session.scalars(groups)),
                singles={key: count for key, count in session.execute(singles)},
                said=[(route, mention) for route, mention in session.execute(said)],
                lately={route: count for route, count in session.execute(lately)},
                by_key=list(session.scalars(by_key)),
                suppressed={route: self._suppressed(session, route) for route in routes},
                unsent=list(session.scalars(unsent)),
            )

    @staticmethod
    def _suppressed(session: Session, route: str) -> int:
        last = session.scalar(
            select(func.max(AlertRow.id)).where(
                AlertRow.route == route, AlertRow.delivery == "sent"
            )
        )
        query = (
            select(func.count())
            .select_from(AlertRow)
            .where(
                AlertRow.route == route,
                AlertRow.delivery.in_(("muted", "inhibited")),
                AlertRow.id > (last or 0),
            )
        )
        return session.scalar(query) or 0
