"""From a fetched batch to stored, triaged mentions with their actions queued: one transaction."""

from datetime import datetime
from typing import Any

from core.models import Mention
from core.own_accounts import OwnAccounts
from core.store import Decision, Ingested, PlannedAction, Store
from listeners.base import Batch
from rules.engine import Engine, Verdict
from service.windows import author_recent_counts


def plan_actions(verdict: Verdict) -> tuple[PlannedAction, ...]:
    """The outbox actions of a verdict: one `alert` per route, at most one `reply`.

    Tags and escalations travel in every alert's payload, so the alert shows the tags and the
    SLA watcher knows where to escalate it and when.
    """
    extra: dict[str, Any] = {}
    if verdict.tags:
        extra["tags"] = list(verdict.tags)
    if verdict.escalations:
        extra["escalate"] = [
            {"rule": e.rule, "route": e.route, "after_seconds": int(e.after.total_seconds())}
            for e in verdict.escalations
        ]
    actions = [
        PlannedAction(
            kind="alert",
            rule=alert.rule,
            target=alert.route,
            payload={**extra, **({"owner": alert.owner} if alert.owner else {})},
        )
        for alert in verdict.alerts
    ]
    actions += [
        PlannedAction(
            kind="reply",
            rule=reply.rule,
            payload={
                "template": reply.template,
                "text": reply.text,
                "dry_run": reply.dry_run,
                **extra,
            },
        )
        for reply in verdict.replies
    ]
    return tuple(actions)


def decision(verdict: Verdict) -> Decision:
    return Decision(
        sentiment=verdict.sentiment,
        urgency=verdict.urgency,
        reasons=verdict.reasons,
        rules=verdict.rules,
        actions=plan_actions(verdict),
    )


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
