"""Replies drafted by agents: one pending draft per alert, sent once into the outbox."""

from datetime import datetime

from sqlalchemy import select, update
from sqlmodel import Session

from core.models import AgentActionRow, AlertRow, ReplyDraftRow
from core.store.alerts import acknowledge
from core.store.outbox import Outbox
from core.store.records import PlannedAction


class Drafts(Outbox):
    """Drafts queue their reply through the outbox's own insert, in the draft's transaction."""

    def add_draft(
        self, alert_id: int, text: str, source: str, user_id: str, user_name: str, now: datetime
    ) -> ReplyDraftRow:
        """A new draft replaces any pending one on the same alert."""
        with Session(self.engine) as session, session.begin():
            session.execute(
                update(ReplyDraftRow)
                .where(ReplyDraftRow.alert_id == alert_id, ReplyDraftRow.state == "pending")
                .values(state="cancelled")
            )
            draft = ReplyDraftRow(
                alert_id=alert_id,
                text=text,
                source=source,
                user_id=user_id,
                user_name=user_name,
                created_at=now,
            )
            session.add(draft)
            session.flush()
            session.expunge(draft)
            return draft

    def draft(self, draft_id: int) -> ReplyDraftRow | None:
        with Session(self.engine) as session:
            return session.get(ReplyDraftRow, draft_id)

    def pending_draft(self, alert_id: int) -> ReplyDraftRow | None:
        with Session(self.engine) as session:
            query = select(ReplyDraftRow).where(
                ReplyDraftRow.alert_id == alert_id, ReplyDraftRow.state == "pending"
            )
            return session.scalars(query.order_by(ReplyDraftRow.id.desc())).first()

    def cancel_draft(
        self, draft_id: int, user_id: str, user_name: str, now: datetime, origin: str = "telegram"
    ) -> None:
        with Session(self.engine) as session, session.begin():
            draft = session.get(ReplyDraftRow, draft_id, with_for_update=True)
            if draft is None or draft.state != "pending":
                return
            draft.state = "cancelled"
            alert = session.get(AlertRow, draft.alert_id)
            if alert is not None:
                alert.replying_id = ""
            session.add(
                AgentActionRow(
                    alert_id=draft.alert_id,
                    action="reply_cancel",
                    user_id=user_id,
                    user_name=user_name,
                    at=now,
                    origin=origin,
                )
            )

    def send_draft(
        self,
        draft_id: int,
        action: PlannedAction,
        user_id: str,
        user_name: str,
        now: datetime,
        origin: str = "telegram",
    ) -> int | None:
        """Queue the draft as a reply in the outbox and count it as the agent's answer.

        Returns the outbox id, or None when the draft was already sent or cancelled (a double
        tap on Send posts once).
        """
        with Session(self.engine) as session, session.begin():
            draft = session.get(ReplyDraftRow, draft_id, with_for_update=True)
            if draft is None or draft.state != "pending":
                return None
            alert = session.get(AlertRow, draft.alert_id, with_for_update=True)
            if alert is None or alert.mention_id is None:
                return None
            outbox_id = self._queue(session, alert.mention_id, action, now)
            draft.state, draft.outbox_id = "sent", outbox_id
            alert.replying_id = ""
            if alert.answered_at is None:
                alert.answered_at, alert.answered_by = now, user_name
            if alert.acknowledged_at is None:
                alert.state = "acknowledged" if alert.state == "open" else alert.state
                acknowledge(alert, now, user_id, user_name)
            session.add(
                AgentActionRow(
                    alert_id=alert.id or 0,
                    action="reply",
                    user_id=user_id,
                    user_name=user_name,
                    at=now,
                    origin=origin,
                )
            )
            return outbox_id
