"""From a fetched batch to stored, triaged mentions with their actions queued: one transaction."""

from datetime import datetime

from core.decisions import Decision
from core.mention import Mention
from core.own_accounts import OwnAccounts
from core.store import Ingested, Store
from listeners.base import Batch
from rules.engine import Engine
from service.plan import decision
from service.windows import author_recent_counts

# Why a mention of ours gets no actions: shown as its reason wherever it is looked at.
OURS = "written by one of the brand's own accounts"


class Pipeline:
    def __init__(self, store: Store, engine: Engine, own: OwnAccounts | None = None):
        """`own`: the brand's accounts, whose posts are stored as ours and never acted on."""
        self.store = store
        self.engine = engine
        self.own = own or OwnAccounts()

    def ingest(
        self, source: str, batch: Batch, now: datetime, triage_after: datetime | None = None
    ) -> list[Ingested]:
        engine = self.engine  # one rule set for the whole batch, even if a reload swaps it
        window = engine.config.urgency.repeat_window
        recent = author_recent_counts(self.store, batch.mentions, window)

        def decide(mention: Mention) -> Decision:
            if self.own.wrote(mention):
                return Decision(sentiment=0.0, urgency=0, reasons=(OURS,), ours=True)
            verdict = engine.evaluate(
                mention, author_recent_count=recent.get((mention.platform, mention.external_id), 0)
            )
            return decision(verdict)

        return self.store.ingest(
            source, batch.mentions, batch.next_cursor, decide, now, triage_after
        )
