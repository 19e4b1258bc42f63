"""The outbox: actions keyed `(mention, rule, kind)`, claimed, then marked sent once performed."""

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import defer
from sqlmodel import Session

from core.decisions import PlannedAction
from core.models import LeaseRow, MentionRow, OutboxRow
from core.states import OutboxKind
from core.store._db import StoreBase
from core.store.records import OutboxItem


class Outbox(StoreBase):
    def claim_due(
        self, now: datetime, limit: int = 50, kinds: Iterable[str] = (), raw: bool = True
    ) -> list[OutboxItem]:
        """Take up to `limit` due actions, oldest first, marking them in flight.

        `raw=False`: their mentions come without the platform's payload (`Mention.raw` empty),
        for responders that never read it: a storm's batch of 500 alerts loaded 500 payloads
        (~7 MB of peak RSS in a 1,000-post burst) for nothing.
        """
        with Session(self.engine) as session, session.begin():
            query = (
                select(OutboxRow, MentionRow)
                .join(MentionRow, MentionRow.id == OutboxRow.mention_id)
                .where(OutboxRow.state == "pending", OutboxRow.not_before <= now)
                .order_by(OutboxRow.id)
                .limit(limit)
            )
            if kinds:
                query = query.where(OutboxRow.kind.in_(list(kinds)))
            if not raw:
                query = query.options(defer(MentionRow.raw))
            if self.engine.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True, of=OutboxRow)
            claimed = []
            for row, mention in session.execute(query):
                row.state = "sending"
                row.claimed_by = self.node
                row.attempts += 1
                claimed.append(
                    OutboxItem(
                        id=row.id or 0,
                        kind=row.kind,
                        rule=row.rule,
                        target=row.target,
                        payload=dict(row.payload or {}),
                        attempts=row.attempts,
                        mention_id=mention.id or 0,
                        mention=mention.to_mention(raw=raw),
                        sentiment=mention.sentiment,
                        urgency=mention.urgency,
                        reasons=tuple(mention.reasons or ()),
                        rules=tuple(mention.rules or ()),
                    )
                )
            return claimed

    def mark_sent(self, item_id: int, now: datetime, result_ref: str = "") -> None:
        with Session(self.engine) as session, session.begin():
            session.execute(
                update(OutboxRow)
                # A responder that settled its action itself (a reply record) has the last word.
                .where(OutboxRow.id == item_id, OutboxRow.state == "sending")
                .values(state="sent", sent_at=now, result_ref=result_ref, last_error="")
            )

    def mark_failed(self, item_id: int, error: str, retry_at: datetime | None) -> None:
        """Back to pending for a retry at `retry_at`, or `failed` for good when it is None."""
        values: dict[str, Any] = {"last_error": error[:2000]}
        if retry_at is None:
            values["state"] = "failed"
        else:
            values.update(state="pending", not_before=retry_at)
        with Session(self.engine) as session, session.begin():
            session.execute(update(OutboxRow).where(OutboxRow.id == item_id).values(**values))

    def release(self, item_ids: Iterable[int], not_before: datetime) -> None:
        """Hand claimed but unattempted actions back, keeping their order for the next drain."""
        ids = list(item_ids)
        if not ids:
            return
        with Session(self.engine) as session, session.begin():
            session.execute(
                update(OutboxRow)
                .where(OutboxRow.id.in_(ids), OutboxRow.state == "sending")
                .values(state="pending", not_before=not_before, attempts=OutboxRow.attempts - 1)
            )

    def recover_in_flight(self, now: datetime) -> int:
        """After a crash, actions left in flight may or may not have gone out: retry them, flagged.

        Losing an alert is worse than a possible repeat, so they are sent again with
        `payload.maybe_repeat` set; the responder says so in the message. Only actions of
        nodes without a live heartbeat lease are taken: a live node is still sending its own.
        """
        # Core statements on the tables, not the ORM classes: on a quiet start this is the
        # first statement of the run, and an ORM query would pay for configuring every mapper.
        outbox, leases = OutboxRow.__table__.c, LeaseRow.__table__.c
        live = select(leases.owner).where(leases.name.startswith("node:"), leases.expires_at > now)
        abandoned = select(outbox.id, outbox.payload).where(
            outbox.state == "sending", outbox.claimed_by.not_in(live)
        )
        if self.engine.dialect.name == "postgresql":
            abandoned = abandoned.with_for_update(skip_locked=True)
        with self.engine.begin() as connection:
            rows = connection.execute(abandoned).all()
            for row_id, payload in rows:
                connection.execute(
                    update(OutboxRow.__table__)
                    .where(outbox.id == row_id)
                    .values(
                        payload={**(payload or {}), "maybe_repeat": True},
                        state="pending",
                        not_before=now,
                    )
                )
            return len(rows)

    def outbox(self, state: str | None = None) -> list[OutboxRow]:
        with Session(self.engine) as session:
            query = select(OutboxRow).order_by(OutboxRow.id)
            if state:
                query = query.where(OutboxRow.state == state)
            return list(session.scalars(query))

    def outbox_counts(self) -> list[tuple[str, str, int]]:
        """(kind, state, how many) of every outbox action, sorted."""
        query = select(OutboxRow.kind, OutboxRow.state, func.count()).group_by(
            OutboxRow.kind, OutboxRow.state
        )
        with Session(self.engine) as session:
            return sorted((kind, state, count) for kind, state, count in session.execute(query))

    def outbox_backlog(self) -> tuple[dict[str, int], datetime | None]:
        """(unsent actions per kind, creation time of the oldest unsent action or None)."""
        unsent = OutboxRow.state.in_(("pending", "sending"))
        with Session(self.engine) as session:
            depth = {
                kind: count
                for kind, count in session.execute(
                    select(OutboxRow.kind, func.count()).where(unsent).group_by(OutboxRow.kind)
                )
            }
            oldest = session.scalar(select(func.min(OutboxRow.created_at)).where(unsent))
        return depth, oldest

    # --- actions queued after triage (holding replies, agents' replies) ---------------------

    def queue_action(self, mention_id: int, action: PlannedAction, now: datetime) -> int | None:
        """Add one outbox action; None when its idempotency key was queued before."""
        with Session(self.engine) as session, session.begin():
            return self._queue(session, mention_id, action, now)

    def reply_queued(self, mention_id: int, besides_rule: str) -> bool:
        """Has any rule but `besides_rule` queued a reply to this mention?"""
        with Session(self.engine) as session:
            query = select(OutboxRow.id).where(
                OutboxRow.mention_id == mention_id,
                OutboxRow.kind == OutboxKind.REPLY,
                OutboxRow.rule != besides_rule,
            )
            return session.scalars(query).first() is not None

    def _queue(
        self, session: Session, mention_id: int, action: PlannedAction, now: datetime
    ) -> int | None:
        statement = (
            self._insert(OutboxRow)
            .values(outbox_values(mention_id, action, now))
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(OutboxRow.id)
        )
        return session.execute(statement).scalar()


def outbox_values(mention_id: int, action: PlannedAction, now: datetime) -> dict[str, Any]:
    return {
        "key": ":".join(
            str(part) for part in (mention_id, action.rule, action.kind, action.target)
        ),
        "kind": action.kind,
        "mention_id": mention_id,
        "rule": action.rule,
        "target": action.target,
        "payload": dict(action.payload),
        "state": "pending",
        "attempts": 0,
        "not_before": now,
        "created_at": now,
    }
