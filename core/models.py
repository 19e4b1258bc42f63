"""What BrandPulse knows: mentions, their triage, the outbox of actions, alerts and agents' taps.

The `*Row` classes are the tables; the store converts between them and the plain
`core.mention.Mention`, so that no layer above it sees a database session.
"""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, Text, TypeDecorator, UniqueConstraint
from sqlmodel import Field, SQLModel
from sqlmodel.main import SQLModelConfig

from core.mention import Mention
from core.reasons import Reason, ReasonList


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite keeps no zone, PostgreSQL does)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use datetime.now(UTC)")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _utc_column(nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable, index=index)


class TableRow(SQLModel):
    """Every table's base. Rows are read and written by SQLAlchemy, never validated or dumped by
    pydantic, so the validator and serializer pydantic would build for each table class at
    import are built only if something asks (for the twelve: 0.8 MB of the import's 3.0 MB, and
    27 M of the 2,240 M instructions `run --once` spends, measured)."""

    model_config = SQLModelConfig(defer_build=True)


class MentionRow(TableRow, table=True):
    __tablename__ = "mention"
    __table_args__ = (
        UniqueConstraint("platform", "external_id", name="uq_mention_platform_id"),
        # The period figures' scans (core/store/figures.py) read only these columns: from the
        # index alone they skip the wide rows (text, raw). Migration 0008.
        Index(
            "ix_mention_period_figures",
            *("created_at", "platform", "source", "lang", "sentiment"),
            *("author_id", "author_handle", "author_followers", "id"),
        ),
        # The repeat-complainer count (earlier_by_same_author): an author's mentions since a
        # time, one index range per side, holding every column the count reads, so it never
        # visits the wide rows (an author's 20 earlier ones at 100,000 stored). Migration 0010.
        Index(
            "ix_mention_author_id_recent",
            *("author_id", "created_at", "platform", "external_id", "author_handle"),
        ),
        Index(
            "ix_mention_author_handle_recent",
            *("author_handle", "created_at", "platform", "external_id", "author_id"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    external_id: str = Field(max_length=128)
    source: str = Field(default="", max_length=128, index=True)
    url: str = Field(default="", sa_type=Text)
    author_id: str = Field(default="", max_length=128)
    author_handle: str = Field(default="", max_length=256)
    author_followers: int = 0
    author_verified: bool = False
    author_is_bot: bool = False
    text: str = Field(default="", sa_type=Text)
    lang: str = Field(default="", max_length=16)
    conversation_id: str = Field(default="", max_length=128)
    in_reply_to_id: str = Field(default="", max_length=128)
    created_at: datetime = Field(sa_type=UTCDateTime, index=True)
    fetched_at: datetime = Field(sa_type=UTCDateTime)
    raw: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    # Triage, written in the same transaction as the mention itself.
    status: str = Field(default="new", max_length=16)  # triaged | backfilled | ours
    sentiment: float | None = None
    urgency: int | None = None
    reasons: list[Reason] = Field(default_factory=list, sa_column=Column(ReasonList))
    rules: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    # An agent's verdict on the alert ("not_relevant"), kept on the mention so a backtest can
    # show which rules fire on mentions people said needed nothing.
    feedback: str = Field(default="", max_length=32)
    feedback_by: str = Field(default="", max_length=256)
    feedback_at: datetime | None = _utc_column()

    def to_mention(self, raw: bool = True) -> Mention:
        """The plain mention; `raw=False` leaves its payload out (a row loaded without it)."""
        return Mention(
            platform=self.platform,
            external_id=self.external_id,
            text=self.text,
            created_at=self.created_at,
            source=self.source,
            url=self.url,
            author_id=self.author_id,
            author_handle=self.author_handle,
            author_followers=self.author_followers,
            author_verified=self.author_verified,
            author_is_bot=self.author_is_bot,
            lang=self.lang,
            conversation_id=self.conversation_id,
            in_reply_to_id=self.in_reply_to_id,
            raw=dict(self.raw or {}) if raw else {},
        )


class CursorRow(TableRow, table=True):
    """Where a source's listener left off; written in the transaction that saves its mentions."""

    __tablename__ = "cursor"

    source: str = Field(primary_key=True, max_length=128)
    value: str = Field(sa_type=Text)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class LeaseRow(TableRow, table=True):
    """Who works on what when several nodes share the database (see core/leases.py).

    `name` is `source:<source>` for the node polling a source, `node:<owner>` for a node's
    heartbeat. A lease is valid until `expires_at`; after that any node may take it over.
    """

    __tablename__ = "lease"

    name: str = Field(primary_key=True, max_length=200)
    owner: str = Field(max_length=128, index=True)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    acquired_at: datetime = Field(sa_type=UTCDateTime)


class SourceStatusRow(TableRow, table=True):
    """How a source's last polls went, whichever node made them: what `main.py health` shows."""

    __tablename__ = "source_status"

    source: str = Field(primary_key=True, max_length=128)
    node: str = Field(default="", max_length=128)
    last_attempt_at: datetime = Field(sa_type=UTCDateTime)
    last_success_at: datetime | None = _utc_column()
    problem: str = Field(default="", sa_type=Text)  # "" when the last poll worked
    problem_since: datetime | None = _utc_column()
    # A push source's own connection (X's filtered stream): connected since, last keep-alive,
    # reconnects, posts received, gap fills, what is wrong; None for a polled source.
    stream: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class OutboxRow(TableRow, table=True):
    """An action decided by the rules, waiting to be performed exactly once.

    `key` is the idempotency key `(mention, rule, kind, target)`: a second decision for the same
    mention by the same rule is a no-op at insert time, so a replay sends nothing twice.
    """

    __tablename__ = "outbox"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=256, unique=True)
    kind: str = Field(max_length=16)  # alert | reply
    mention_id: int = Field(foreign_key="mention.id", index=True)
    rule: str = Field(default="", max_length=128)
    target: str = Field(default="", max_length=128)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    # pending → sending → sent; failures go back to pending with a later not_before.
    state: str = Field(default="pending", max_length=16, index=True)
    attempts: int = 0
    not_before: datetime = Field(sa_type=UTCDateTime, index=True)
    created_at: datetime = Field(sa_type=UTCDateTime)
    sent_at: datetime | None = _utc_column()
    result_ref: str = Field(default="", max_length=128)
    last_error: str = Field(default="", sa_type=Text)
    # The node that marked it `sending`: a crash recovery retries only a dead node's actions.
    claimed_by: str = Field(default="", max_length=128)


class AlertRow(TableRow, table=True):
    """An alert as staff see it in Telegram, and what they did with it.

    Every alert action of the outbox ends as one row, so every mention is counted somewhere:
    `delivery` says whether it got its own message (`sent`) or was counted in another alert's
    message (`grouped`, `repeat`, `inhibited`: `group_id` is that alert) or silenced (`muted`).
    Window alerts (spikes) have no outbox action or mention of their own.
    """

    __tablename__ = "alert"

    id: int | None = Field(default=None, primary_key=True)
    outbox_id: int | None = Field(default=None, foreign_key="outbox.id", unique=True)
    mention_id: int | None = Field(default=None, foreign_key="mention.id", index=True)
    chat_id: str = Field(max_length=64)
    message_id: int  # 0 until sent, and for alerts without a message of their own
    # open | acknowledged (claimed) | resolved | not_relevant
    state: str = Field(default="open", max_length=16, index=True)
    created_at: datetime = Field(sa_type=UTCDateTime)
    acknowledged_at: datetime | None = _utc_column()
    acknowledged_by: str = Field(default="", max_length=256)
    acknowledged_id: str = Field(default="", max_length=64)  # the claimer's user id ("my" queue)
    resolved_at: datetime | None = _utc_column()
    resolved_by: str = Field(default="", max_length=256)
    kind: str = Field(default="mention", max_length=16)  # mention | group | window
    delivery: str = Field(default="sent", max_length=16, index=True)
    group_id: int | None = Field(default=None, index=True)
    route: str = Field(default="staff", max_length=64)
    rule: str = Field(default="", max_length=128)
    group_key: str = Field(default="", max_length=256, index=True)  # route|rule
    key: str = Field(default="", max_length=512, index=True)  # rule|author, or a window episode
    inhibits: list[str] = Field(default_factory=list, sa_column=Column(JSON))  # window alerts
    summary: str = Field(default="", sa_type=Text)  # window alerts: what fired
    count: int = 1  # mentions this message stands for: itself and those counted in it
    suppressed: int = 0  # muted or inhibited on the route since the previous alert message
    last_at: datetime | None = _utc_column()  # the newest mention counted in this message
    dirty: bool = False  # counted more since the message was last edited
    edited_at: datetime | None = _utc_column()
    # The SLA clock: first response due, warning time, and what the watcher did.
    due_at: datetime | None = _utc_column(index=True)
    warn_at: datetime | None = _utc_column()
    warned_at: datetime | None = _utc_column()
    escalated_at: datetime | None = _utc_column()
    escalated_by: str = Field(default="", max_length=256)
    escalated_to: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    held_at: datetime | None = _utc_column()  # holding reply queued
    snoozed_until: datetime | None = _utc_column()
    answered_at: datetime | None = _utc_column()  # first reply an agent sent to the customer
    answered_by: str = Field(default="", max_length=256)
    replying_id: str = Field(default="", max_length=64)  # the agent who pressed Reply


class AgentActionRow(TableRow, table=True):
    """Every tap on an alert button, with who and when (first-response time comes from these)."""

    __tablename__ = "agent_action"

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(foreign_key="alert.id", index=True)
    action: str = Field(max_length=32)
    user_id: str = Field(max_length=64)
    user_name: str = Field(default="", max_length=256)
    at: datetime = Field(sa_type=UTCDateTime)
    origin: str = Field(default="telegram", max_length=16)  # telegram | web


class ReplyDraftRow(TableRow, table=True):
    """A reply an agent picked or typed, shown for confirmation before it is posted."""

    __tablename__ = "reply_draft"

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(foreign_key="alert.id", index=True)
    text: str = Field(sa_type=Text)
    source: str = Field(default="typed", max_length=64)  # typed | saved:<name>
    user_id: str = Field(max_length=64)
    user_name: str = Field(default="", max_length=256)
    created_at: datetime = Field(sa_type=UTCDateTime)
    state: str = Field(default="pending", max_length=16)  # pending | sent | cancelled
    outbox_id: int | None = Field(default=None, foreign_key="outbox.id")


class SilenceRow(TableRow, table=True):
    """`/mute <rule> <duration>`: alerts of `rule` are counted, not sent, until `until`."""

    __tablename__ = "silence"

    id: int | None = Field(default=None, primary_key=True)
    rule: str = Field(max_length=128, index=True)  # "*": every rule
    until: datetime = Field(sa_type=UTCDateTime, index=True)
    created_at: datetime = Field(sa_type=UTCDateTime)
    created_by: str = Field(default="", max_length=256)


class ReplyRow(TableRow, table=True):
    """A public reply to a mention on its own platform (or one held back): who, what, when.

    Written `attempting` before the platform is called and `sent`, with the platform's id of
    the reply, right after (together with its outbox action), so a crash in between shows at the
    next start and is settled by asking the platform. Auto-replies that a guardrail or a rule's
    `dry_run` held back are recorded too (`skipped`, `dry_run`), with the reason.
    """

    __tablename__ = "reply"

    id: int | None = Field(default=None, primary_key=True)
    outbox_id: int = Field(foreign_key="outbox.id", unique=True)
    mention_id: int = Field(foreign_key="mention.id", index=True)
    platform: str = Field(max_length=16)
    rule: str = Field(default="", max_length=128)
    automatic: bool = True  # a rule's or the SLA watcher's reply, not an agent's
    author_key: str = Field(default="", max_length=300, index=True)  # platform:author id
    conversation_key: str = Field(default="", max_length=300, index=True)
    text: str = Field(sa_type=Text)
    posted_by: str = Field(default="", max_length=256)  # the brand account, or the agent
    # attempting | sent | failed | uncertain | skipped | dry_run
    state: str = Field(default="attempting", max_length=16, index=True)
    reason: str = Field(default="", sa_type=Text)  # why skipped, failed or uncertain
    platform_ref: str = Field(default="", max_length=128)  # the reply's id on its platform
    url: str = Field(default="", sa_type=Text)
    created_at: datetime = Field(sa_type=UTCDateTime, index=True)
    sent_at: datetime | None = _utc_column()
    noted_at: datetime | None = _utc_column()  # shown to staff in Telegram


class WebLoginRow(TableRow, table=True):
    """A one-time login link to the web console: only its hash is kept, it works once."""

    __tablename__ = "web_login"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)  # sha256 of the link's token, in hex
    role: str = Field(max_length=16)  # agent | viewer
    user_id: str = Field(default="", max_length=64)  # an agent's Telegram user id
    name: str = Field(max_length=256)
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = _utc_column()


class TelegramBudgetRow(TableRow, table=True):
    """The moments of a chat's sends and edits in the last minute, by whichever node made them.

    One row per chat, so a node locks it to check and spend the chat's minute budget in one
    step: nodes counting apart could each send Telegram's 20 a minute into the same group.
    """

    __tablename__ = "telegram_budget"

    chat_id: str = Field(primary_key=True, max_length=64)
    # POSIX seconds of the sends within the last minute, oldest first (at most the budget's size).
    sends: list[float] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
