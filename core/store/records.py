"""The values the store hands in and out: what the rules decided, queued actions, inbox rows."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.decisions import Decision
from core.mention import Mention
from core.models import AgentActionRow, AlertRow, MentionRow


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
