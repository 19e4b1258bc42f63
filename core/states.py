"""The states rows move through, as stored: each value is the text the database holds."""

from enum import StrEnum


class OutboxKind(StrEnum):
    ALERT = "alert"
    REPLY = "reply"


class AlertState(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"  # claimed by an agent
    RESOLVED = "resolved"
    NOT_RELEVANT = "not_relevant"


# An alert in one of these states needs nothing more from anyone.
FINAL_STATES = frozenset({AlertState.RESOLVED, AlertState.NOT_RELEVANT})


class AlertKind(StrEnum):
    MENTION = "mention"
    GROUP = "group"  # one message standing for a burst
    WINDOW = "window"  # a window rule that fired (a spike)


class Delivery(StrEnum):
    """How an alert reached the staff: its own message, or counted in another's."""

    SENT = "sent"
    GROUPED = "grouped"
    REPEAT = "repeat"
    INHIBITED = "inhibited"
    MUTED = "muted"
    UNFOLDING = "unfolding"  # counted in a group whose Show each was tapped: posted soon
    POSTING = "posting"  # a node is posting it on its own now (claimed, so only once)


class DraftState(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    CANCELLED = "cancelled"


class Origin(StrEnum):
    """Where an agent acted from, as recorded with each action."""

    TELEGRAM = "telegram"
    WEB = "web"


class WebRole(StrEnum):
    """Who holds a web console session: agents act, viewers only look."""

    AGENT = "agent"
    VIEWER = "viewer"
