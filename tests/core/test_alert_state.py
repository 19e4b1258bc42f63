"""The alert state machine, without a database: which action moves which state, and what else
it writes on the alert."""

from datetime import UTC, datetime, timedelta

import pytest

from core.alert_state import AgentAction, AgentStep, transition
from core.models import AlertRow
from core.states import AlertState

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def alert(state: AlertState = AlertState.OPEN, **values: object) -> AlertRow:
    return AlertRow(chat_id="-100", message_id=5, created_at=NOW, state=state, **values)


@pytest.mark.parametrize(
    ("state", "action", "after"),
    [
        (AlertState.OPEN, AgentAction.CLAIM, AlertState.ACKNOWLEDGED),
        (AlertState.ACKNOWLEDGED, AgentAction.CLAIM, AlertState.ACKNOWLEDGED),
        (AlertState.OPEN, AgentAction.RESOLVE, AlertState.RESOLVED),
        (AlertState.ACKNOWLEDGED, AgentAction.NOT_RELEVANT, AlertState.NOT_RELEVANT),
        (AlertState.OPEN, AgentAction.REPLY, AlertState.ACKNOWLEDGED),
        (AlertState.OPEN, AgentAction.SNOOZE, AlertState.OPEN),
        (AlertState.RESOLVED, AgentAction.CLAIM, AlertState.RESOLVED),
        (AlertState.RESOLVED, AgentAction.NOT_RELEVANT, AlertState.RESOLVED),
        (AlertState.NOT_RELEVANT, AgentAction.RESOLVE, AlertState.NOT_RELEVANT),
    ],
)
def test_each_action_moves_only_the_states_it_may(
    state: AlertState, action: AgentAction, after: AlertState
) -> None:
    assert transition(alert(state), AgentStep(action, "7", "@ana", NOW)).state is after


def test_the_first_claim_wins() -> None:
    claimed = alert(
        AlertState.ACKNOWLEDGED, acknowledged_at=NOW, acknowledged_id="7", acknowledged_by="@ana"
    )
    assert transition(claimed, AgentStep(AgentAction.CLAIM, "8", "@ben", NOW)).values == {}


def test_resolving_an_unclaimed_alert_claims_it_ends_its_snooze_and_closes_its_members() -> None:
    change = transition(
        alert(snoozed_until=NOW + timedelta(hours=1)),
        AgentStep(AgentAction.RESOLVE, "8", "@ben", NOW),
    )
    assert change.closes
    assert change.values == {
        "state": AlertState.RESOLVED,
        "acknowledged_at": NOW,
        "acknowledged_id": "8",
        "acknowledged_by": "@ben",
        "resolved_at": NOW,
        "resolved_by": "@ben",
        "snoozed_until": None,
    }


def test_a_closed_alert_takes_no_snooze_escalation_or_reply_start() -> None:
    for action in (AgentAction.SNOOZE, AgentAction.ESCALATE, AgentAction.REPLY_START):
        change = transition(
            alert(AlertState.RESOLVED), AgentStep(action, "7", "@ana", NOW, until=NOW)
        )
        assert (change.values, change.closes) == ({}, False)


def test_a_reply_sent_after_the_close_still_counts_as_the_first_answer() -> None:
    resolved = alert(AlertState.RESOLVED, acknowledged_at=NOW, replying_id="7")
    change = transition(resolved, AgentStep(AgentAction.REPLY, "7", "@ana", NOW))
    assert change.values == {"replying_id": "", "answered_at": NOW, "answered_by": "@ana"}


def test_escalations_keep_the_first_escalation_and_add_each_route_once() -> None:
    earlier = NOW - timedelta(minutes=5)
    escalated = alert(escalated_at=earlier, escalated_by="SLA watcher", escalated_to=["escalation"])
    again = transition(
        escalated, AgentStep(AgentAction.ESCALATE, "7", "@ana", NOW, route="escalation")
    )
    other = transition(
        escalated, AgentStep(AgentAction.ESCALATE, "7", "@ana", NOW, route="managers")
    )

    assert again.values == {"escalated_at": earlier, "escalated_by": "SLA watcher"}
    assert other.values["escalated_to"] == ["escalation", "managers"]


def test_actions_stored_as_text_are_read_back_as_actions() -> None:
    as_stored = "claim"  # what callers holding a row's text pass
    change = transition(alert(), AgentStep(as_stored, "7", "@ana", NOW))  # type: ignore[arg-type]
    assert change.state is AlertState.ACKNOWLEDGED
