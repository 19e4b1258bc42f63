"""A verdict of the rules as the store keeps it: its decision and the outbox actions it queues."""

from typing import Any

from core.decisions import Decision, PlannedAction
from rules.engine import Verdict


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
