"""What each alert and automatic reply of a period counts as: the one classification that the
report's totals, the dashboard's series, the agents' figures and the lists behind the figures
all read (so a bar and the mentions it opens can never disagree).

The definitions are the report's (service/report.py's docstring).
"""

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from core.store.reporting import AutomaticReply, ReportAlert


class Outcome(StrEnum):
    WITHIN = "within"  # first response at or before the deadline
    MISSED = "missed"  # after it, or none and the deadline passed within the period
    PENDING = "pending"  # no response yet, deadline still ahead
    NOT_RELEVANT = "not_relevant"


@dataclass(frozen=True, slots=True)
class AlertFact:
    alert: ReportAlert
    start: datetime  # when the customer wrote (or the alert, if earlier)
    response: datetime | None  # the human first response: a reply, or the resolution
    outcome: Outcome
    resolution: float | None  # seconds from start to resolved

    @property
    def response_seconds(self) -> float | None:
        return None if self.response is None else (self.response - self.start).total_seconds()

    @property
    def responder(self) -> str:
        """Who gave the first response: the agent who replied, or who resolved it first."""
        alert = self.alert
        if self.response is None:
            return ""
        if alert.answered_at is not None and alert.answered_at == self.response:
            return alert.answered_by
        return alert.resolved_by


@dataclass(frozen=True, slots=True)
class AlertFacts:
    counted: Counter[str]  # mentions counted in other alerts' messages or muted, by delivery
    facts: list[AlertFact]  # one per staff message that stands for a customer waiting


def classify_alerts(alerts: list[ReportAlert], until: datetime) -> AlertFacts:
    counted: Counter[str] = Counter()
    facts: list[AlertFact] = []
    for alert in alerts:
        if alert.delivery != "sent":
            counted[alert.delivery] += 1
            continue
        if alert.kind == "window":
            continue  # a spike stands for a period, not for a customer waiting
        written = alert.written
        start = min(written, alert.created_at) if written else alert.created_at
        if alert.state == "not_relevant":
            facts.append(AlertFact(alert, start, None, Outcome.NOT_RELEVANT, None))
            continue
        responses = [alert.answered_at]
        resolution = None
        if alert.state == "resolved":
            responses.append(alert.resolved_at)
            if alert.resolved_at is not None:
                resolution = (alert.resolved_at - start).total_seconds()
        response = min((r for r in responses if r is not None), default=None)
        if response is not None:
            outcome = (
                Outcome.WITHIN
                if alert.due_at is None or response <= alert.due_at
                else Outcome.MISSED
            )
        elif alert.due_at is not None and alert.due_at <= until:
            outcome = Outcome.MISSED
        else:
            outcome = Outcome.PENDING
        facts.append(AlertFact(alert, start, response, outcome, resolution))
    return AlertFacts(counted, facts)


def bot_first_touches(replies: list[AutomaticReply]) -> dict[int, float]:
    """Mention id → seconds from when the customer wrote to the first automatic reply."""
    first_touch: dict[int, float] = {}
    for reply in replies:
        if reply.sent_at is not None:
            wait = (reply.sent_at - reply.written).total_seconds()
            first_touch[reply.mention_id] = min(wait, first_touch.get(reply.mention_id, wait))
    return first_touch
