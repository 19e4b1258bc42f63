"""Show each: a group's mentions posted one by one, claimed so two nodes never post one twice."""

from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlmodel import Session

from core.models import AlertRow, MentionRow
from core.states import AlertKind, Delivery
from core.store._db import StoreBase
from core.store.records import AlertContext


class ShowEach(StoreBase):
    def unfold(self, group_id: int) -> int:
        """Mark the mentions counted in group `group_id` to be posted one by one; how many.

        Only those still folded are marked, so a second tap posts nothing twice.
        """
        with Session(self.engine) as session, session.begin():
            result = session.execute(
                update(AlertRow)
                .where(
                    AlertRow.group_id == group_id,
                    AlertRow.kind == AlertKind.MENTION,
                    AlertRow.delivery == Delivery.GROUPED,
                )
                .values(delivery=Delivery.UNFOLDING)
            )
            return int(getattr(result, "rowcount", 0) or 0)

    def unfolding(self, limit: int, stale: datetime) -> list[AlertContext]:
        """Mentions waiting to be posted one by one: group by group, most urgent first.

        A claim older than `stale` is of a node that died while posting: waiting again.
        """
        with Session(self.engine) as session:
            query = (
                select(AlertRow, MentionRow)
                .join(MentionRow, MentionRow.id == AlertRow.mention_id)
                .where(_waiting_to_unfold(stale))
                .order_by(
                    AlertRow.group_id,
                    MentionRow.urgency.desc(),
                    MentionRow.author_followers.desc(),
                    AlertRow.id,
                )
                .limit(limit)
            )
            return [AlertContext(alert, mention) for alert, mention in session.execute(query)]

    def worked_members(self, alert_id: int) -> list[AlertRow]:
        """The mentions counted in alert `alert_id`'s message that agents worked one by one."""
        with Session(self.engine) as session:
            query = select(AlertRow).where(
                AlertRow.group_id == alert_id,
                AlertRow.acknowledged_at.is_not(None) | AlertRow.answered_at.is_not(None),
            )
            return list(session.scalars(query.order_by(AlertRow.id)))

    def claim_unfolding(self, alert_id: int, now: datetime, stale: datetime) -> bool:
        """Take one waiting mention to post it; False when another node took it first."""
        with Session(self.engine) as session, session.begin():
            result = session.execute(
                update(AlertRow)
                .where(AlertRow.id == alert_id, _waiting_to_unfold(stale))
                .values(delivery=Delivery.POSTING, edited_at=now)
            )
            return bool(getattr(result, "rowcount", 0))

    def release_unfolding(self, alert_id: int) -> None:
        """Posting it failed: it waits again, in its place."""
        with Session(self.engine) as session, session.begin():
            session.execute(
                update(AlertRow)
                .where(AlertRow.id == alert_id, AlertRow.delivery == Delivery.POSTING)
                .values(delivery=Delivery.UNFOLDING)
            )

    def unfolded(
        self,
        alert_id: int,
        message_id: int,
        now: datetime,
        due_at: datetime | None,
        warn_at: datetime | None,
    ) -> None:
        """A folded mention now has its own message (still counted in its group)."""
        with Session(self.engine) as session, session.begin():
            session.execute(
                update(AlertRow)
                .where(AlertRow.id == alert_id, AlertRow.delivery == Delivery.POSTING)
                .values(
                    delivery=Delivery.SENT,
                    message_id=message_id,
                    edited_at=now,
                    dirty=False,
                    due_at=due_at,
                    warn_at=warn_at,
                )
            )

    def unfold_progress(self, group_id: int) -> tuple[int, int]:
        """(posted one by one, still waiting) of group `group_id`'s mentions."""
        with Session(self.engine) as session:
            counts = dict(
                session.execute(
                    select(AlertRow.delivery, func.count())
                    .where(
                        AlertRow.group_id == group_id,
                        AlertRow.kind == AlertKind.MENTION,
                        AlertRow.delivery.in_(
                            (Delivery.SENT, Delivery.UNFOLDING, Delivery.POSTING)
                        ),
                    )
                    .group_by(AlertRow.delivery)
                ).all()
            )
            waiting = counts.get(Delivery.UNFOLDING, 0) + counts.get(Delivery.POSTING, 0)
            return counts.get(Delivery.SENT, 0), waiting


def _waiting_to_unfold(stale: datetime) -> Any:
    return or_(
        AlertRow.delivery == Delivery.UNFOLDING,
        (AlertRow.delivery == Delivery.POSTING) & (AlertRow.edited_at < stale),
    )
