"""Replies posted on the platforms: one record per outbox action, settled with it."""

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlmodel import Session

from core.models import OutboxRow, ReplyRow
from core.store._db import StoreBase


class Replies(StoreBase):
    def reply_record(self, outbox_id: int) -> ReplyRow | None:
        with Session(self.engine) as session:
            return session.scalar(select(ReplyRow).where(ReplyRow.outbox_id == outbox_id))

    def save_reply(
        self, values: dict[str, Any], finish: str = "", now: datetime | None = None
    ) -> ReplyRow:
        """Insert or update the reply record of one outbox action (`values["outbox_id"]`).

        With `finish` (sent | skipped | dry_run) the outbox action is done with in the same
        transaction: the record and the action never disagree, whatever stops the process.
        """
        with Session(self.engine) as session, session.begin():
            query = select(ReplyRow).where(ReplyRow.outbox_id == values["outbox_id"])
            row = session.scalar(query.with_for_update())
            if row is None:
                row = ReplyRow(**values)
                session.add(row)
            else:
                for key, value in values.items():
                    setattr(row, key, value)
            if finish:
                session.execute(
                    update(OutboxRow)
                    .where(OutboxRow.id == values["outbox_id"])
                    .values(
                        state=finish,
                        sent_at=now,
                        result_ref=(row.platform_ref or row.state)[:128],
                        last_error="",
                    )
                )
            session.flush()
            session.expunge(row)
            return row

    def reply_times(
        self,
        since: datetime,
        states: Iterable[str],
        *,
        mention_id: int | None = None,
        author_key: str = "",
        conversation_key: str = "",
        exclude_outbox: int = 0,
    ) -> list[datetime]:
        """When automatic replies in `states` were made since `since`, oldest first."""
        query = select(ReplyRow.created_at).where(
            ReplyRow.automatic.is_(True),
            ReplyRow.state.in_(list(states)),
            ReplyRow.created_at >= since,
            ReplyRow.outbox_id != exclude_outbox,
        )
        if mention_id is not None:
            query = query.where(ReplyRow.mention_id == mention_id)
        if author_key:
            query = query.where(ReplyRow.author_key == author_key)
        if conversation_key:
            query = query.where(ReplyRow.conversation_key == conversation_key)
        with Session(self.engine) as session:
            return list(session.scalars(query.order_by(ReplyRow.created_at)))

    def replies(self, mention_id: int | None = None) -> list[ReplyRow]:
        with Session(self.engine) as session:
            query = select(ReplyRow).order_by(ReplyRow.id)
            if mention_id is not None:
                query = query.where(ReplyRow.mention_id == mention_id)
            return list(session.scalars(query))

    def unnoted_replies(self, limit: int = 20) -> list[ReplyRow]:
        """Settled replies staff have not been shown yet, oldest first."""
        with Session(self.engine) as session:
            query = (
                select(ReplyRow)
                .where(ReplyRow.noted_at.is_(None), ReplyRow.state != "attempting")
                .order_by(ReplyRow.id)
                .limit(limit)
            )
            return list(session.scalars(query))

    def mark_reply_noted(self, reply_id: int, now: datetime) -> None:
        with Session(self.engine) as session, session.begin():
            session.execute(update(ReplyRow).where(ReplyRow.id == reply_id).values(noted_at=now))
