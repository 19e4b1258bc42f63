"""What the rules decided about one mention, and the actions it queues: plain values the rules'
side builds (service/plan.py) and the store keeps, with no ORM behind them.
"""

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class PlannedAction:
    kind: str  # alert | reply
    rule: str
    target: str = ""  # a route name for alerts
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Decision:
    """What the rules made of one mention."""

    sentiment: float
    urgency: int
    reasons: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    actions: tuple[PlannedAction, ...] = ()
    ours: bool = False  # written by one of the brand's own accounts: stored, never acted on
