"""The inbox: every open mention, one by one, with its history (the web console)."""

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import aliased
from sqlmodel import Session

from core.models import AgentActionRow, AlertRow, MentionRow, OutboxRow
from core.states import FINAL_STATES
from core.store._db import StoreBase
from core.store.records import ActionRecord, InboxFilter, InboxPage, InboxRow


class Inbox(StoreBase):
    def inbox(
        self, wanted: InboxFilter, now: datetime, offset: int = 0, limit: int = 50
    ) -> InboxPage:
        """Open mentions, soonest SLA deadline first, with the message that counts them.

        A grouped mention has no deadline of its own: its group's is its deadline. One page is
        one indexed query and a count; nothing is loaded per row.
        """
        group = aliased(AlertRow)
        due = func.coalesce(AlertRow.due_at, group.due_at)
        query = (
            select(AlertRow, MentionRow, group)
            .join(MentionRow, MentionRow.id == AlertRow.mention_id)
            .outerjoin(group, group.id == AlertRow.group_id)
            .where(*self._inbox_conditions(wanted, group, due, now))
        )
        counted = select(func.count()).select_from(query.with_only_columns(AlertRow.id).subquery())
        page = query.order_by(due.is_(None), due, AlertRow.id).offset(offset).limit(limit)
        with Session(self.engine) as session:
            total = session.scalar(counted) or 0
            rows = [InboxRow(a, m, g) for a, m, g in session.execute(page)]
        return InboxPage(rows, total)

    @staticmethod
    def _inbox_conditions(
        wanted: InboxFilter, group: Any, due: Any, now: datetime
    ) -> list[ColumnElement[bool]]:
        own = aliased(AlertRow)
        own_alerts = select(own.id).where(
            own.mention_id == AlertRow.mention_id, own.kind == "mention"
        )
        conditions: list[ColumnElement[bool]] = [
            AlertRow.state.not_in(FINAL_STATES),
            or_(
                # The first alert of a mention stands for it (two rules may both alert on it);
                (AlertRow.kind == "mention") & ~own_alerts.where(own.id < AlertRow.id).exists(),
                # a group's own message stands for the mention that opened it, until an agent
                # works that mention by itself (`own_alert`).
                (AlertRow.kind == "group") & ~own_alerts.exists(),
            ),
        ]
        unclaimed = AlertRow.acknowledged_at.is_(None) & (
            group.id.is_(None) | group.acknowledged_at.is_(None)
        )
        if wanted.platform:
            conditions.append(MentionRow.platform == wanted.platform)
        if wanted.rule:
            conditions.append(AlertRow.rule == wanted.rule)
        if wanted.lang:
            conditions.append(MentionRow.lang == wanted.lang)
        if wanted.state == "open":
            conditions.append(unclaimed)
        elif wanted.state == "claimed":
            conditions.append(~unclaimed)
        elif wanted.state == "snoozed":
            snoozed = func.coalesce(AlertRow.snoozed_until, group.snoozed_until)
            conditions.append(snoozed > now)
        if wanted.claimed_by:
            conditions.append(
                or_(
                    AlertRow.acknowledged_id == wanted.claimed_by,
                    AlertRow.acknowledged_at.is_(None)
                    & (group.acknowledged_id == wanted.claimed_by),
                )
            )
        if wanted.breached:
            conditions.append(due <= now)
        return conditions

    def mention_alert(self, mention_id: int) -> InboxRow | None:
        """The mention's own (first) alert, or the group it opened, with the message counting
        it; None when no alert stands for it."""
        group = aliased(AlertRow)
        query = (
            select(AlertRow, MentionRow, group)
            .join(MentionRow, MentionRow.id == AlertRow.mention_id)
            .outerjoin(group, group.id == AlertRow.group_id)
            .where(AlertRow.mention_id == mention_id, AlertRow.kind.in_(("mention", "group")))
            .order_by(AlertRow.kind != "mention", AlertRow.id)
            .limit(1)
        )
        with Session(self.engine) as session:
            found = session.execute(query).first()
            return InboxRow(*found) if found else None

    def own_alert(self, mention_id: int) -> AlertRow | None:
        """The alert to work this one mention on: its own, or, for the mention that opened a
        group, a new one counted in that group (so working it leaves the group's others be)."""
        with Session(self.engine) as session, session.begin():
            query = select(AlertRow).where(AlertRow.mention_id == mention_id)
            opened = session.scalars(
                query.where(AlertRow.kind == "group").with_for_update()
            ).first()
            own = session.scalars(query.where(AlertRow.kind == "mention").order_by(AlertRow.id))
            alert = own.first()
            if alert is None and opened is not None:
                alert = AlertRow(
                    mention_id=mention_id,
                    chat_id=opened.chat_id,
                    message_id=opened.message_id,
                    created_at=opened.created_at,
                    kind="mention",
                    delivery="grouped",
                    group_id=opened.id,
                    route=opened.route,
                    rule=opened.rule,
                    group_key=opened.group_key,
                    last_at=opened.created_at,
                )
                if opened.state in FINAL_STATES:
                    alert.state = opened.state
                session.add(alert)
                session.flush()
            if alert is not None:
                session.expunge(alert)
            return alert

    def mention_history(self, alert: AlertRow) -> list[ActionRecord]:
        """Every action on a mention's alert and on the message that counts it, oldest first."""
        ids = [alert.id or 0] + ([alert.group_id] if alert.group_id else [])
        query = (
            select(AgentActionRow)
            .where(AgentActionRow.alert_id.in_(ids))
            .order_by(AgentActionRow.at, AgentActionRow.id)
        )
        with Session(self.engine) as session:
            on_group = alert.kind == "group"  # the mention that opened a group, not yet worked
            return [
                ActionRecord(a, on_group or a.alert_id != alert.id) for a in session.scalars(query)
            ]

    def earlier_by_author(self, mention: MentionRow, limit: int = 20) -> list[MentionRow]:
        """The same author's mentions on the same platform before this one, newest first."""
        if not mention.author_id:
            return []
        query = (
            select(MentionRow)
            .where(
                MentionRow.author_id == mention.author_id,
                MentionRow.platform == mention.platform,
                MentionRow.id != mention.id,
                MentionRow.created_at <= mention.created_at,
            )
            .order_by(MentionRow.created_at.desc(), MentionRow.id.desc())
            .limit(limit)
        )
        with Session(self.engine) as session:
            return list(session.scalars(query))

    def alert_of_mention(self, mention_id: int) -> tuple[AlertRow | None, bool]:
        """The staff message showing `mention_id` (its own, or the group counting it), and
        whether an alert for it is still waiting in the outbox."""
        with Session(self.engine) as session:
            alert = session.scalars(
                select(AlertRow).where(AlertRow.mention_id == mention_id).order_by(AlertRow.id)
            ).first()
            if alert is not None and alert.message_id <= 0 and alert.group_id is not None:
                alert = session.get(AlertRow, alert.group_id)
            waiting = session.scalars(
                select(OutboxRow.id).where(
                    OutboxRow.mention_id == mention_id,
                    OutboxRow.kind == "alert",
                    OutboxRow.state.in_(["pending", "sending"]),
                )
            ).first()
            shown = alert if alert is not None and alert.message_id > 0 else None
            return shown, waiting is not None
