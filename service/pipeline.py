"""From a fetched batch to stored, triaged mentions with their actions queued: one transaction."""

from datetime import datetime

from core.models import Mention
from core.store import Decision, Ingested, PlannedAction, Store
from listeners.base import Batch
from rules.engine import Engine


class Pipeline:
    def __init__(self, store: Store, engine: Engine):
        self.store = store
        self.engine = engine

    def decide(self, mention: Mention) -> Decision:
        verdict = self.engine.evaluate(mention)
        return Decision(
            sentiment=verdict.sentiment,
            urgency=verdict.urgency,
            reasons=verdict.reasons,
            rules=verdict.rules,
            actions=tuple(
                PlannedAction(kind="alert", rule=alert.rule, target=alert.route)
                for alert in verdict.alerts
            ),
        )

    def ingest(
        self, source: str, batch: Batch, now: datetime, triage_after: datetime | None = None
    ) -> list[Ingested]:
        return self.store.ingest(
            source, batch.mentions, batch.next_cursor, self.decide, now, triage_after
        )
