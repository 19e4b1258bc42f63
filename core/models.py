"""What BrandPulse knows: mentions, their triage, the outbox of actions, alerts and agents' taps.

`Mention` is the plain value listeners produce and rules read. The `*Row` classes are the tables;
the store converts between them so that no layer above it sees a database session.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Text, TypeDecorator, UniqueConstraint
from sqlmodel import Field, SQLModel


@dataclass(frozen=True, slots=True)
class Mention:
    platform: str  # "x", "reddit", "telegram"
    external_id: str  # the platform's id: tweet id, Reddit fullname, "chat_id:message_id"
    text: str
    created_at: datetime  # aware, UTC
    source: str = ""  # the configured source that found it, e.g. "x:mentions"
    url: str = ""
    author_id: str = ""
    author_handle: str = ""
    author_followers: int = 0
    author_verified: bool = False
    author_is_bot: bool = False
    lang: str = ""
    conversation_id: str = ""
    in_reply_to_id: str = ""
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


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


class MentionRow(SQLModel, table=True):
    __tablename__ = "mention"
    __table_args__ = (UniqueConstraint("platform", "external_id", name="uq_mention_platform_id"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    external_id: str = Field(max_length=128)
    source: str = Field(default="", max_length=128, index=True)
    url: str = Field(default="", sa_type=Text)
    author_id: str = Field(default="", max_length=128)
    author_handle: str = Field(default="", max_length=256, index=True)
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
    status: str = Field(default="new", max_length=16)  # triaged | backfilled
    sentiment: float | None = None
    urgency: int | None = None
    reasons: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    rules: list[str] = Field(default_factory=list, sa_column=Column(JSON))

    def to_mention(self) -> Mention:
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
            raw=dict(self.raw or {}),
        )


class CursorRow(SQLModel, table=True):
    """Where a source's listener left off; written in the transaction that saves its mentions."""

    __tablename__ = "cursor"

    source: str = Field(primary_key=True, max_length=128)
    value: str = Field(sa_type=Text)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class OutboxRow(SQLModel, table=True):
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


class AlertRow(SQLModel, table=True):
    """An alert as staff see it in Telegram, and what they did with it."""

    __tablename__ = "alert"

    id: int | None = Field(default=None, primary_key=True)
    outbox_id: int = Field(foreign_key="outbox.id", unique=True)
    mention_id: int = Field(foreign_key="mention.id", index=True)
    chat_id: str = Field(max_length=64)
    message_id: int
    state: str = Field(default="open", max_length=16, index=True)  # open | acknowledged | resolved
    created_at: datetime = Field(sa_type=UTCDateTime)
    acknowledged_at: datetime | None = _utc_column()
    acknowledged_by: str = Field(default="", max_length=256)
    resolved_at: datetime | None = _utc_column()
    resolved_by: str = Field(default="", max_length=256)


class AgentActionRow(SQLModel, table=True):
    """Every tap on an alert button, with who and when (first-response time comes from these)."""

    __tablename__ = "agent_action"

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(foreign_key="alert.id", index=True)
    action: str = Field(max_length=32)
    user_id: str = Field(max_length=64)
    user_name: str = Field(default="", max_length=256)
    at: datetime = Field(sa_type=UTCDateTime)
