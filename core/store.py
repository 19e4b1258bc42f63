"""The one place that talks to the database.

Guarantees the rest of BrandPulse relies on:
- a batch of mentions, their triage, their outbox actions and the source's new cursor are written
  in ONE transaction: nothing is fetched twice, nothing is missed, a double poll is harmless;
- an outbox action is keyed `(mention, rule, kind)` and marked sent only after it was performed.
"""

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Engine, delete, event, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased
from sqlmodel import Session, create_engine

from core import migrations
from core.models import (
    AgentActionRow,
    AlertRow,
    CursorRow,
    LeaseRow,
    Mention,
    MentionRow,
    OutboxRow,
    ReplyDraftRow,
    ReplyRow,
    SilenceRow,
    SourceStatusRow,
)
from core.states import FINAL_STATES, AlertKind, Delivery


@dataclass(frozen=True, slots=True)
class PlannedAction:
    kind: str  # alert | reply
    rule: str
    target: str = ""  # a route name for alerts
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Decision:
    """What the rules made of one mention."""

    sentiment: float
    urgency: int
    reasons: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    actions: tuple[PlannedAction, ...] = ()
    ours: bool = False  # written by one of the brand's own accounts: stored, never acted on


@dataclass(frozen=True, slots=True)
class Ingested:
    """One mention that was new to the store, with what the rules decided."""

    mention_id: int
    mention: Mention
    decision: Decision | None  # None for backfilled mentions, which are stored but not triaged


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    kind: str
    rule: str
    target: str
    payload: dict[str, Any]
    attempts: int
    mention_id: int
    mention: Mention
    sentiment: float | None
    urgency: int | None
    reasons: tuple[str, ...]
    rules: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AlertContext:
    alert: AlertRow
    mention: MentionRow | None  # None for window alerts, which stand for no single mention


@dataclass(frozen=True, slots=True)
class InboxFilter:
    """What the inbox shows: every filter left empty shows every open mention."""

    platform: str = ""
    rule: str = ""
    lang: str = ""
    state: str = ""  # "" | open (nobody claimed it) | claimed | snoozed
    claimed_by: str = ""  # a user id: only what they claimed
    breached: bool = False  # only mentions past their SLA deadline


@dataclass(frozen=True, slots=True)
class InboxRow:
    """One open mention in the inbox; `group` is the alert whose message counts it, if any."""

    alert: AlertRow
    mention: MentionRow
    group: AlertRow | None

    @property
    def due_at(self) -> datetime | None:
        return self.alert.due_at or (self.group.due_at if self.group else None)

    @property
    def message_alert(self) -> AlertRow | None:
        """The group alert whose Telegram message counts this mention, if it is grouped."""
        return self.alert if self.alert.kind == "group" else self.group

    @property
    def claimed_by(self) -> str:
        if self.alert.acknowledged_by:
            return self.alert.acknowledged_by
        return self.group.acknowledged_by if self.group else ""

    @property
    def snoozed_until(self) -> datetime | None:
        return self.alert.snoozed_until or (self.group.snoozed_until if self.group else None)


@dataclass(frozen=True, slots=True)
class InboxPage:
    rows: list[InboxRow]
    total: int


@dataclass(frozen=True, slots=True)
class ActionRecord:
    """One thing an agent did, on the mention's own alert or on the message counting it."""

    action: AgentActionRow
    on_group: bool


def connect(url: str) -> Engine:
    """An engine for `url`; SQLite gets WAL and a busy timeout so readers never block the poller."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            json_serializer=_to_json,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, json_serializer=_to_json)


class Store:
    def __init__(self, engine: Engine):
        self.engine = engine
        # The node this process is (core/leases.py), written on the actions it claims, so a
        # crash recovery elsewhere retries only the actions of nodes that are gone.
        self.node = ""
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    @classmethod
    def open(cls, url: str, create_empty: bool = True) -> "Store":
        """Connect to `url`, whose schema must be current (raises migrations.SchemaError).

        A brand-new empty database gets the schema here, unless `create_empty` is False.
        """
        store = cls(connect(url))
        try:
            migrations.ensure_current(store.engine, create_empty)
        except BaseException:
            store.close()
            raise
        return store

    def close(self) -> None:
        self.engine.dispose()

    # --- cursors and mentions -------------------------------------------------------------

    def cursor(self, source: str) -> str | None:
        with Session(self.engine) as session:
            row = session.get(CursorRow, source)
            return row.value if row else None

    def ingest(
        self,
        source: str,
        mentions: Sequence[Mention],
        next_cursor: str | None,
        decide: Callable[[Mention], Decision],
        now: datetime,
        triage_after: datetime | None = None,
    ) -> list[Ingested]:
        """Save `mentions`, triage the new ones, queue their actions, move the cursor: atomically.

        Mentions created before `triage_after` (the first start's backfill window) are stored so
        they are never fetched again, but not triaged: nobody wants yesterday's flood of alerts.
        """
        decisions: dict[tuple[str, str], Decision | None] = {}
        rows: list[dict[str, Any]] = []
        for mention in _unique(mentions):
            fresh = triage_after is None or mention.created_at >= triage_after
            decision = decide(mention) if fresh else None
            decisions[(mention.platform, mention.external_id)] = decision
            values = _mention_values(mention, decision, now)
            # The raw payload needs no pass of its own: its JSON text escapes both.
            rows.append({k: v if k == "raw" else _storable(v) for k, v in values.items()})
        by_key = {(m.platform, m.external_id): m for m in mentions}
        ingested: list[Ingested] = []
        with Session(self.engine) as session, session.begin():
            if rows:
                statement = (
                    # Core inserts on the table: the ORM's per-row bookkeeping is a third of
                    # the pipeline's time at 100 mentions a page, and buys nothing here.
                    self._insert(MentionRow.__table__)
                    .on_conflict_do_nothing(index_elements=["platform", "external_id"])
                    .returning(MentionRow.id, MentionRow.platform, MentionRow.external_id)
                )
                for mention_id, platform, external_id in session.execute(statement, rows):
                    key = (platform, external_id)
                    ingested.append(Ingested(mention_id, by_key[key], decisions[key]))
            outbox = [
                _outbox_values(item.mention_id, action, now)
                for item in ingested
                if item.decision
                for action in item.decision.actions
            ]
            if outbox:
                session.execute(
                    self._insert(OutboxRow.__table__).on_conflict_do_nothing(
                        index_elements=["key"]
                    ),
                    outbox,
                )
            if next_cursor is not None:
                self._save_cursor(session, source, next_cursor, now)
        ingested.sort(key=lambda item: item.mention_id)
        return ingested

    def _save_cursor(self, session: Session, source: str, value: str, now: datetime) -> None:
        statement = self._insert(CursorRow).values(source=source, value=value, updated_at=now)
        session.execute(
            statement.on_conflict_do_update(
                index_elements=["source"],
                set_={"value": statement.excluded.value, "updated_at": now},
            )
        )

    def mention(self, mention_id: int) -> MentionRow | None:
        with Session(self.engine) as session:
            return session.get(MentionRow, mention_id)

    def mentions(self, since: datetime | None = None) -> list[MentionRow]:
        with Session(self.engine) as session:
            query = select(MentionRow).order_by(MentionRow.id)
            if since is not None:
                query = query.where(MentionRow.created_at >= since)
            return list(session.scalars(query))

    def count_mentions(self) -> int:
        with Session(self.engine) as session:
            return session.scalar(select(func.count()).select_from(MentionRow)) or 0

    # --- outbox ---------------------------------------------------------------------------

    def claim_due(
        self, now: datetime, limit: int = 50, kinds: Iterable[str] = ()
    ) -> list[OutboxItem]:
        """Take up to `limit` due actions, oldest first, marking them in flight."""
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
                        mention=mention.to_mention(),
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
        live = select(LeaseRow.owner).where(
            LeaseRow.name.startswith("node:"), LeaseRow.expires_at > now
        )
        abandoned = select(OutboxRow).where(
            OutboxRow.state == "sending", OutboxRow.claimed_by.not_in(live)
        )
        if self.engine.dialect.name == "postgresql":
            abandoned = abandoned.with_for_update(skip_locked=True)
        with Session(self.engine) as session, session.begin():
            rows = list(session.scalars(abandoned))
            for row in rows:
                row.payload = {**(row.payload or {}), "maybe_repeat": True}
                row.state = "pending"
                row.not_before = now
            return len(rows)

    def outbox(self, state: str | None = None) -> list[OutboxRow]:
        with Session(self.engine) as session:
            query = select(OutboxRow).order_by(OutboxRow.id)
            if state:
                query = query.where(OutboxRow.state == state)
            return list(session.scalars(query))

    # --- alerts and agents ----------------------------------------------------------------

    def alert(self, alert_id: int) -> AlertRow | None:
        with Session(self.engine) as session:
            return session.get(AlertRow, alert_id)

    def alerts(self) -> list[AlertRow]:
        with Session(self.engine) as session:
            return list(session.scalars(select(AlertRow).order_by(AlertRow.id)))

    def record_agent_action(
        self,
        alert_id: int,
        action: str,
        user_id: str,
        user_name: str,
        now: datetime,
        *,
        until: datetime | None = None,
        route: str = "",
        origin: str = "telegram",
    ) -> AlertRow:
        """Record a tap and move the alert's state; the first claim or resolution wins.

        `until` is the end of a snooze; `route` where an escalation went; `origin` the face
        the agent acted from (telegram | web).
        """
        with Session(self.engine) as session, session.begin():
            alert = session.get(AlertRow, alert_id, with_for_update=True)
            if alert is None:
                raise LookupError(f"no alert {alert_id}")
            session.add(
                AgentActionRow(
                    alert_id=alert_id,
                    action=action,
                    user_id=user_id,
                    user_name=user_name,
                    at=now,
                    origin=origin,
                )
            )
            if action == "claim" and alert.state == "open":
                alert.state = "acknowledged"
                _acknowledge(alert, now, user_id, user_name)
            elif action in ("resolve", "not_relevant") and alert.state not in FINAL_STATES:
                if alert.acknowledged_at is None:
                    _acknowledge(alert, now, user_id, user_name)
                alert.state = "resolved" if action == "resolve" else "not_relevant"
                alert.resolved_at, alert.resolved_by = now, user_name
                alert.snoozed_until = None
                self._close_members(session, alert, now, user_name)
            elif action == "snooze" and alert.state not in FINAL_STATES:
                alert.snoozed_until = until
            elif action == "escalate" and alert.state not in FINAL_STATES:
                alert.escalated_at = alert.escalated_at or now
                alert.escalated_by = alert.escalated_by or user_name
                if route and route not in alert.escalated_to:
                    alert.escalated_to = [*alert.escalated_to, route]
            elif action == "reply_start" and alert.state not in FINAL_STATES:
                alert.replying_id = user_id
            session.flush()
            session.expunge(alert)
            return alert

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
        if alert.state != "not_relevant":
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

    # --- Show each: a group's mentions posted one by one ------------------------------------

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

    # --- replies drafted by agents ----------------------------------------------------------

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
                _acknowledge(alert, now, user_id, user_name)
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

    # --- actions queued after triage (holding replies, agents' replies) ---------------------

    def queue_action(self, mention_id: int, action: PlannedAction, now: datetime) -> int | None:
        """Add one outbox action; None when its idempotency key was queued before."""
        with Session(self.engine) as session, session.begin():
            return self._queue(session, mention_id, action, now)

    def _queue(
        self, session: Session, mention_id: int, action: PlannedAction, now: datetime
    ) -> int | None:
        statement = (
            self._insert(OutboxRow)
            .values(_outbox_values(mention_id, action, now))
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(OutboxRow.id)
        )
        return session.execute(statement).scalar()

    # --- silences ---------------------------------------------------------------------------

    def add_silence(self, rule: str, until: datetime, by: str, now: datetime) -> SilenceRow:
        with Session(self.engine) as session, session.begin():
            silence = SilenceRow(rule=rule, until=until, created_at=now, created_by=by)
            session.add(silence)
            session.flush()
            session.expunge(silence)
            return silence

    def silences(self, now: datetime) -> list[SilenceRow]:
        """Silences in force at `now`; expired ones simply stop matching."""
        with Session(self.engine) as session:
            query = select(SilenceRow).where(SilenceRow.until > now).order_by(SilenceRow.id)
            return list(session.scalars(query))

    # --- replies posted on the platforms -----------------------------------------------------

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

    def source_problem_started(self, source: str) -> bool:
        """True when `source`'s last poll began a run of failures that no other source of its
        platform was already in (one refused key stops them all: staff hear of it once)."""
        platform = source.partition(":")[0]
        status = SourceStatusRow
        with Session(self.engine) as session:
            row = session.get(status, source)
            if not (row and row.problem and row.problem_since == row.last_attempt_at):
                return False
            earlier = select(status.source).where(
                status.source.startswith(f"{platform}:"),
                status.source != source,
                status.problem != "",
                or_(
                    status.problem_since < row.problem_since,
                    (status.problem_since == row.problem_since) & (status.source < source),
                ),
            )
            return session.scalars(earlier).first() is None

    def mark_reply_noted(self, reply_id: int, now: datetime) -> None:
        with Session(self.engine) as session, session.begin():
            session.execute(update(ReplyRow).where(ReplyRow.id == reply_id).values(noted_at=now))

    # --- the inbox: every open mention, one by one (the web console) -------------------------

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


def _acknowledge(alert: AlertRow, now: datetime, user_id: str, user_name: str) -> None:
    alert.acknowledged_at, alert.acknowledged_id, alert.acknowledged_by = now, user_id, user_name


def _waiting_to_unfold(stale: datetime) -> Any:
    return or_(
        AlertRow.delivery == Delivery.UNFOLDING,
        (AlertRow.delivery == Delivery.POSTING) & (AlertRow.edited_at < stale),
    )


def _unique(mentions: Iterable[Mention]) -> list[Mention]:
    """Each mention once, oldest first, so ids and alerts follow the order people wrote in."""
    seen: set[tuple[str, str]] = set()
    out = []
    for mention in sorted(mentions, key=_age_order):
        key = (mention.platform, mention.external_id)
        if key not in seen:
            seen.add(key)
            out.append(mention)
    return out


def _age_order(mention: Mention) -> tuple[datetime, int, str]:
    # Same-second mentions: numeric ids (tweets) order by length first, then by digits.
    return (mention.created_at, len(mention.external_id), mention.external_id)


def _mention_values(mention: Mention, decision: Decision | None, now: datetime) -> dict[str, Any]:
    return {
        "platform": mention.platform,
        "external_id": mention.external_id,
        "source": mention.source,
        "url": mention.url,
        "author_id": mention.author_id,
        "author_handle": mention.author_handle,
        "author_followers": mention.author_followers,
        "author_verified": mention.author_verified,
        "author_is_bot": mention.author_is_bot,
        "text": mention.text,
        "lang": mention.lang,
        "conversation_id": mention.conversation_id,
        "in_reply_to_id": mention.in_reply_to_id,
        "created_at": mention.created_at,
        "fetched_at": now,
        "raw": mention.raw,
        "status": ("ours" if decision.ours else "triaged") if decision else "backfilled",
        "sentiment": decision.sentiment if decision else None,
        "urgency": decision.urgency if decision else None,
        "reasons": list(decision.reasons) if decision else [],
        "rules": list(decision.rules) if decision else [],
    }


def _outbox_values(mention_id: int, action: PlannedAction, now: datetime) -> dict[str, Any]:
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


def _to_json(value: Any) -> str:
    # Payloads come from outside; anything json can't take (bytes, odd numbers) becomes text.
    # ASCII escapes keep unpaired surrogates and NULs from reaching the database as raw text.
    return json.dumps(value, default=str)


def _storable(value: Any) -> Any:
    """`value` with every string made storable on every backend.

    PostgreSQL refuses NUL characters and unpaired UTF-16 surrogates (which a JSON payload's
    "\\ud800" escapes produce); one such mention must not fail the whole batch and stall its
    source forever, so they become U+FFFD.
    """
    if isinstance(value, str):
        if "\x00" in value:
            value = value.replace("\x00", "\ufffd")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            value = value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        return value
    if isinstance(value, dict):
        return {_storable(k): _storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_storable(v) for v in value]
    return value
