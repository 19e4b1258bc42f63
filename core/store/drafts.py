"""Replies drafted by agents: one pending draft per alert, sent once into the outbox."""

from datetime import datetime

from sqlalchemy import select, update
from sqlmodel import Session

from core.alert_state import AgentAction, AgentStep
from core.decisions import PlannedAction
from core.models import AlertRow, ReplyDraftRow
from core.states import DraftState, Origin
from core.store.alerts import Alerts
from core.store.outbox import Outbox


class Drafts(Outbox, Alerts):
    """Drafts queue their reply through the outbox's own insert and move the alert through the
    alerts' own transition, all in the draft's transaction."""

    def add_draft(
        self, alert_id: int, text: str, source: str, user_id: str, user_name: str, now: datetime
    ) -> ReplyDraftRow:
        """A new draft replaces any pending one on the same alert."""
        with Session(self.engine) as session, session.begin():
            session.execute(
                update(ReplyDraftRow)
                .where(
                    ReplyDraftRow.alert_id == alert_id, ReplyDraftRow.state == DraftState.PENDING
                )
                .values(state=DraftState.CANCELLED)
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
                ReplyDraftRow.alert_id == alert_id, ReplyDraftRow.state == DraftState.PENDING
            )
            return session.scalars(query.order_by(ReplyDraftRow.id.desc())).first()

    def cancel_draft(
        self,
        draft_id: int,
        user_id: str,
        user_name: str,
        now: datetime,
        origin: Origin = Origin.TELEGRAM,
    ) -> None:
        with Session(self.engine) as session, session.begin():
            draft = session.get(ReplyDraftRow, draft_id, with_for_update=True)
            if draft is None or draft.state != DraftState.PENDING:
                return
            draft.state = DraftState.CANCELLED
            alert = session.get(AlertRow, draft.alert_id, with_for_update=True)
            if alert is not None:
                step = AgentStep(AgentAction.REPLY_CANCEL, user_id, user_name, now)
                self._apply(session, alert, step, origin)

    def send_draft(
        self,
        draft_id: int,
        action: PlannedAction,
        user_id: str,
        user_name: str,
        now: datetime,
        origin: Origin = Origin.TELEGRAM,
    ) -> int | None:
        """Queue the draft as a reply in the outbox and count it as the agent's answer.

        Returns the outbox id, or None when the draft was already sent or cancelled (a double
        tap on Send posts once).
        """
        with Session(self.engine) as session, session.begin():
            draft = session.get(ReplyDraftRow, draft_id, with_for_update=True)
            if draft is None or draft.state != DraftState.PENDING:
                return None
            alert = session.get(AlertRow, draft.alert_id, with_for_update=True)
            if alert is None or alert.mention_id is None:
                return None
            outbox_id = self._queue(session, alert.mention_id, action, now)
            draft.state, draft.outbox_id = DraftState.SENT, outbox_id
            self._apply(
                session, alert, AgentStep(AgentAction.REPLY, user_id, user_name, now), origin
            )
            return outbox_id
