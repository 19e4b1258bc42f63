"""Alerts (the staff messages) and what agents did on them; the state rules are in
core/alert_state.py, this module only persists them."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, or_, select, update
from sqlmodel import Session

from core.alert_state import AgentAction, AgentStep, transition
from core.models import AgentActionRow, AlertRow, MentionRow, OutboxRow
from core.states import FINAL_STATES, AlertState, Origin
from core.store._db import StoreBase
from core.store.records import AlertContext


class Alerts(StoreBase):
    def alert(self, alert_id: int) -> AlertRow | None:
        with Session(self.engine) as session:
            return session.get(AlertRow, alert_id)

    def alerts(self) -> list[AlertRow]:
        with Session(self.engine) as session:
            return list(session.scalars(select(AlertRow).order_by(AlertRow.id)))

    def record_agent_action(
        self,
        alert_id: int,
        action: AgentAction,
        user_id: str,
        user_name: str,
        now: datetime,
        *,
        until: datetime | None = None,
        route: str = "",
        origin: Origin = Origin.TELEGRAM,
    ) -> AlertRow:
        """Record an agent's action and write what it changes (core/alert_state.py decides).

        `until` is the end of a snooze; `route` where an escalation went; `origin` the face
        the agent acted from (telegram | web).
        """
        step = AgentStep(action, user_id, user_name, now, until, route)
        with Session(self.engine) as session, session.begin():
            alert = session.get(AlertRow, alert_id, with_for_update=True)
            if alert is None:
                raise LookupError(f"no alert {alert_id}")
            self._apply(session, alert, step, origin)
            session.flush()
            session.expunge(alert)
            return alert

    def _apply(self, session: Session, alert: AlertRow, step: AgentStep, origin: Origin) -> None:
        """Record `step` on the locked `alert` and persist its transition, in `session`."""
        session.add(
            AgentActionRow(
                alert_id=alert.id or 0,
                action=step.action,
                user_id=step.user_id,
                user_name=step.user_name,
                at=step.at,
                origin=origin,
            )
        )
        change = transition(alert, step)
        for column, value in change.values.items():
            setattr(alert, column, value)
        if change.closes:
            self._close_members(session, alert, step.at, step.user_name)

    def _close_members(self, session: Session, alert: AlertRow, now: datetime, by: str) -> None:
        """A resolved or dismissed message closes the mentions counted in it too.

        "Not relevant" is also written on each mention, so a backtest can tell which rules
        fire on mentions people said needed nothing.
        """
        members = select(AlertRow.id).where(AlertRow.group_id == alert.id)
        session.execute(
            update(AlertRow)
            .where(AlertRow.id.in_(members), AlertRow.state.not_in(FINAL_STATES))
            .values(state=alert.state, resolved_at=now, resolved_by=by)
        )
        if alert.state != AlertState.NOT_RELEVANT:
            return
        mention_ids = select(AlertRow.mention_id).where(
            or_(AlertRow.id == alert.id, AlertRow.group_id == alert.id),
            AlertRow.mention_id.is_not(None),
        )
        session.execute(
            update(MentionRow)
            .where(MentionRow.id.in_(mention_ids))
            .values(feedback="not_relevant", feedback_by=by, feedback_at=now)
        )

    def agent_actions(self, alert_id: int) -> list[AgentActionRow]:
        with Session(self.engine) as session:
            query = select(AgentActionRow).where(AgentActionRow.alert_id == alert_id)
            return list(session.scalars(query.order_by(AgentActionRow.id)))

    def alert_context(self, alert_id: int) -> AlertContext | None:
        with Session(self.engine) as session:
            alert = session.get(AlertRow, alert_id)
            if alert is None:
                return None
            mention = session.get(MentionRow, alert.mention_id) if alert.mention_id else None
            return AlertContext(alert, mention)

    def alert_by_message(self, chat_id: str, message_id: int) -> AlertRow | None:
        """The alert that owns Telegram message `message_id` in `chat_id`."""
        with Session(self.engine) as session:
            query = select(AlertRow).where(
                AlertRow.chat_id == chat_id,
                AlertRow.message_id == message_id,
                AlertRow.delivery == "sent",
            )
            return session.scalars(query).first()

    def open_alert_message(self, values: dict[str, Any]) -> AlertRow:
        """Insert an alert about to be sent (message_id 0), so its buttons can carry its id.

        An action retried after a crash may find its row from the attempt before: reuse it.
        """
        with Session(self.engine) as session, session.begin():
            alert = None
            if values.get("outbox_id") is not None:
                query = select(AlertRow).where(AlertRow.outbox_id == values["outbox_id"])
                alert = session.scalars(query).first()
            if alert is None:
                alert = AlertRow(**values)
                session.add(alert)
            else:
                for name, value in values.items():
                    setattr(alert, name, value)
            session.flush()
            session.expunge(alert)
            return alert

    def alert_message_sent(self, alert_id: int, message_id: int, now: datetime) -> None:
        """The alert's message is out: remember it and mark its outbox action sent."""
        with Session(self.engine) as session, session.begin():
            alert = session.get(AlertRow, alert_id)
            if alert is None:
                raise LookupError(f"no alert {alert_id}")
            alert.message_id, alert.edited_at, alert.dirty = message_id, now, False
            # Mentions counted in a group before its message went out point at it now.
            session.execute(
                update(AlertRow)
                .where(AlertRow.group_id == alert_id, AlertRow.message_id == 0)
                .values(message_id=message_id)
            )
            if alert.outbox_id is not None:
                session.execute(
                    update(OutboxRow)
                    .where(OutboxRow.id == alert.outbox_id)
                    .values(sent_at=now, state="sent", result_ref=f"{alert.chat_id}:{message_id}")
                )

    def drop_unsent_alert(self, alert_id: int) -> None:
        with Session(self.engine) as session, session.begin():
            session.execute(delete(AlertRow).where(AlertRow.id == alert_id))

    def count_in(
        self, members: Sequence[dict[str, Any]], counted: dict[int, tuple[int, datetime]]
    ) -> None:
        """Record alerts shown inside other alerts' messages (or muted), in one transaction.

        `members` are AlertRow values, each with its `outbox_id`, which is marked sent;
        `counted` maps a message-owning alert to (how many joined it, the newest of them).
        """
        if not members and not counted:
            return
        with Session(self.engine) as session, session.begin():
            if members:
                session.execute(insert(AlertRow), list(members))
                # ORM bulk UPDATE by primary key: one executemany, not one statement per row.
                session.execute(
                    update(OutboxRow),
                    [
                        {
                            "id": member["outbox_id"],
                            "state": "sent",
                            "sent_at": member["created_at"],
                            "result_ref": f"{member['delivery']}:{member.get('group_id') or ''}",
                        }
                        for member in members
                    ],
                )
            for alert_id, (added, newest) in counted.items():
                session.execute(
                    update(AlertRow)
                    .where(AlertRow.id == alert_id)
                    .values(count=AlertRow.count + added, last_at=newest, dirty=True)
                )

    def alert_edited(self, alert_id: int, count_shown: int, now: datetime) -> None:
        """The message now shows `count_shown`; it stays dirty if more were counted meanwhile."""
        with Session(self.engine) as session, session.begin():
            session.execute(
                update(AlertRow)
                .where(AlertRow.id == alert_id)
                .values(edited_at=now, dirty=AlertRow.count != count_shown)
            )

    def update_alert(self, alert_id: int, **values: Any) -> None:
        with Session(self.engine) as session, session.begin():
            session.execute(update(AlertRow).where(AlertRow.id == alert_id).values(**values))

    def members(
        self, alert_id: int, limit: int | None = None, newest: bool = False
    ) -> list[AlertContext]:
        """The alerts counted in alert `alert_id`'s message: most urgent, then widest reach
        (`newest`: the latest counted first)."""
        order = (
            (AlertRow.id.desc(),)
            if newest
            else (MentionRow.urgency.desc(), MentionRow.author_followers.desc(), AlertRow.id)
        )
        with Session(self.engine) as session:
            query = (
                select(AlertRow, MentionRow)
                .join(MentionRow, MentionRow.id == AlertRow.mention_id)
                .where(or_(AlertRow.group_id == alert_id, AlertRow.id == alert_id))
                .order_by(*order)
                .limit(limit)
            )
            return [AlertContext(alert, mention) for alert, mention in session.execute(query)]

    def dirty_messages(self, edited_before: datetime) -> list[tuple[int, str]]:
        """(alert id, chat) of sent messages whose alert changed, last edited before then."""
        with Session(self.engine) as session:
            query = (
                select(AlertRow.id, AlertRow.chat_id)
                .where(
                    AlertRow.dirty.is_(True),
                    AlertRow.message_id > 0,
                    or_(AlertRow.edited_at.is_(None), AlertRow.edited_at <= edited_before),
                )
                .order_by(AlertRow.edited_at, AlertRow.id)
            )
            return [(alert_id or 0, chat) for alert_id, chat in session.execute(query)]

    def window_seen(self, key: str) -> bool:
        """Has a window alert with this key ever been raised?"""
        with Session(self.engine) as session:
            query = select(AlertRow.id).where(AlertRow.kind == "window", AlertRow.key == key)
            return session.scalars(query).first() is not None

    def open_messages(self) -> list[tuple[AlertRow, MentionRow | None]]:
        """Every open alert that has a message in a chat, with its mention (if it has one)."""
        with Session(self.engine) as session:
            query = (
                select(AlertRow, MentionRow)
                .outerjoin(MentionRow, MentionRow.id == AlertRow.mention_id)
                .where(
                    AlertRow.delivery == "sent",
                    AlertRow.message_id > 0,
                    AlertRow.state.not_in(FINAL_STATES),
                )
            )
            return [(row[0], row[1]) for row in session.execute(query)]
