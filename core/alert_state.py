"""The alert state machine: which agent action moves an alert to which state, and what else
it changes on the alert. Pure: the store reads the alert under a lock, asks `transition`, and
writes what it says, so every face (Telegram buttons, web console) gets the same rules.

The first claim or resolution wins; a closed alert takes nothing more but the end of a reply
already under way.
"""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from core.models import AlertRow
from core.states import FINAL_STATES, AlertState


class AgentAction(StrEnum):
    """What an agent did, as recorded in `agent_action.action`."""

    CLAIM = "claim"
    RESOLVE = "resolve"
    NOT_RELEVANT = "not_relevant"
    SNOOZE = "snooze"
    ESCALATE = "escalate"
    REPLY_START = "reply_start"
    REPLY_CANCEL = "reply_cancel"
    REPLY = "reply"  # the agent's reply was queued for the customer


# The only state changes there are; any other (state, action) pair leaves the state alone.
NEXT_STATE: dict[tuple[AlertState, AgentAction], AlertState] = {
    (AlertState.OPEN, AgentAction.CLAIM): AlertState.ACKNOWLEDGED,
    (AlertState.OPEN, AgentAction.REPLY): AlertState.ACKNOWLEDGED,  # answering is claiming
    (AlertState.OPEN, AgentAction.RESOLVE): AlertState.RESOLVED,
    (AlertState.ACKNOWLEDGED, AgentAction.RESOLVE): AlertState.RESOLVED,
    (AlertState.OPEN, AgentAction.NOT_RELEVANT): AlertState.NOT_RELEVANT,
    (AlertState.ACKNOWLEDGED, AgentAction.NOT_RELEVANT): AlertState.NOT_RELEVANT,
}

# Actions that still count on a closed alert: a draft begun before the close may be sent or
# dropped, and its reply is still the customer's first answer.
AFTER_CLOSE = frozenset({AgentAction.REPLY, AgentAction.REPLY_CANCEL})


@dataclass(frozen=True, slots=True)
class Transition:
    """What an action does to one alert."""

    state: AlertState
    values: dict[str, Any]  # the alert's columns to set (state included)
    closes: bool = False  # the alert was closed now: the mentions counted in it close too


@dataclass(frozen=True, slots=True)
class AgentStep:
    """One action by one agent at one moment (`until`: a snooze's end; `route`: where an
    escalation went)."""

    action: AgentAction
    user_id: str
    user_name: str
    at: datetime
    until: datetime | None = None
    route: str = ""


def transition(alert: AlertRow, step: AgentStep) -> Transition:
    """What `step` changes on `alert`."""
    action, now = AgentAction(step.action), step.at
    state = AlertState(alert.state)
    if state in FINAL_STATES and action not in AFTER_CLOSE:
        return Transition(state, {})
    after = NEXT_STATE.get((state, action), state)
    values: dict[str, Any] = {}
    claimer = {
        "acknowledged_at": now,
        "acknowledged_id": step.user_id,
        "acknowledged_by": step.user_name,
    }
    if action is AgentAction.CLAIM and after is not state:
        values.update(claimer)
    elif action in (AgentAction.RESOLVE, AgentAction.NOT_RELEVANT):
        if alert.acknowledged_at is None:
            values.update(claimer)
        values.update(resolved_at=now, resolved_by=step.user_name, snoozed_until=None)
    elif action is AgentAction.SNOOZE:
        values["snoozed_until"] = step.until
    elif action is AgentAction.ESCALATE:
        values["escalated_at"] = alert.escalated_at or now
        values["escalated_by"] = alert.escalated_by or step.user_name
        if step.route and step.route not in alert.escalated_to:
            values["escalated_to"] = [*alert.escalated_to, step.route]
    elif action is AgentAction.REPLY_START:
        values["replying_id"] = step.user_id
    elif action is AgentAction.REPLY_CANCEL:
        values["replying_id"] = ""
    elif action is AgentAction.REPLY:
        values["replying_id"] = ""
        if alert.answered_at is None:
            values.update(answered_at=now, answered_by=step.user_name)
        if alert.acknowledged_at is None:
            values.update(claimer)
    if after is not state:
        values["state"] = after
    return Transition(after, values, closes=after in FINAL_STATES and after is not state)
