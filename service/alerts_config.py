"""`alerts:` in config.yaml: when alerts fold into a group, re-alert back-off, inhibition, the
chat's minute budget and saved replies (docs/agents.md). Read by service/grouping.py.
"""

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

from core.duration import Duration
from responders.telegram_config import SavedReply
from service.budget_shares import GROUP_NEEDS, SINGLE_NEEDS


class AlertsConfig(BaseModel):
    """`alerts:` in config.yaml; see docs/agents.md."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # A rule's alerts on a route within group_window before the rest fold (20 a minute: more
    # than a chat takes, so at ordinary rates nothing folds by rule).
    group_after: int = Field(default=20, ge=1, le=1000)
    group_window: Duration = timedelta(minutes=1)
    # Alerts saying the same thing (one thread, near-identical text) before the rest fold.
    same_after: int = Field(default=3, ge=1, le=1000)
    same_window: Duration = timedelta(minutes=10)
    # A group's new mentions are shown by the next outbox pass at most this long after the last
    # edit (the pass runs every service.outbox_every and after each poll).
    edit_every: Duration = timedelta(seconds=1)
    max_per_minute: int = Field(default=18, ge=GROUP_NEEDS + SINGLE_NEEDS, le=20)
    realert: Duration = timedelta(minutes=10)
    realert_max: Duration = timedelta(hours=4)
    inhibit_for: Duration = timedelta(hours=1)
    saved_replies: list[SavedReply] = Field(default_factory=list)
