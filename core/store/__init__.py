"""The one place that talks to the database, one module per subject.

Guarantees the rest of BrandPulse relies on:
- a batch of mentions, their triage, their outbox actions and the source's new cursor are written
  in ONE transaction: nothing is fetched twice, nothing is missed, a double poll is harmless;
- an outbox action is keyed `(mention, rule, kind)` and marked sent only after it was performed.
"""

from sqlalchemy import Engine

from core import migrations
from core.decisions import Decision, PlannedAction
from core.states import FINAL_STATES
from core.store._db import connect, dialect_insert
from core.store.alerts import Alerts
from core.store.deadlines import Deadlines, WatchedAlert
from core.store.drafts import Drafts
from core.store.inbox import Inbox
from core.store.labels import LabelledMention, TriageLabels
from core.store.mentions import Mentions
from core.store.outbox import Outbox
from core.store.recent_alerts import RecentAlertsQueries
from core.store.records import (
    ActionRecord,
    AlertContext,
    InboxFilter,
    InboxPage,
    InboxRow,
    Ingested,
    OutboxItem,
)
from core.store.replies import Replies
from core.store.reporting import Reporting
from core.store.rule_history import RuleHistory
from core.store.show_each import ShowEach
from core.store.silences import Silences
from core.store.status import SourceStatus
from core.store.telegram_budget import TelegramBudget

__all__ = [
    "FINAL_STATES",
    "ActionRecord",
    "AlertContext",
    "Decision",
    "InboxFilter",
    "InboxPage",
    "InboxRow",
    "Ingested",
    "LabelledMention",
    "OutboxItem",
    "PlannedAction",
    "Store",
    "WatchedAlert",
    "connect",
]


class Store(
    Mentions,
    Drafts,
    Outbox,
    Alerts,
    Deadlines,
    RecentAlertsQueries,
    ShowEach,
    Silences,
    Replies,
    SourceStatus,
    Inbox,
    RuleHistory,
    TriageLabels,
    Reporting,
    TelegramBudget,
):
    """The database door: each subject's queries are in its mixin's module beside this one."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.node = ""
        self._insert = dialect_insert(engine)

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
