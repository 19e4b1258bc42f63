"""What the rules decide about one mention: the `Verdict` and the actions in it."""

from dataclasses import dataclass
from datetime import timedelta

from core.reasons import Reason


@dataclass(frozen=True, slots=True)
class Alert:
    rule: str  # the first rule that asked for it; all rules that did are in Verdict.rules
    route: str
    owner: str = ""
    priority: int = 0


@dataclass(frozen=True, slots=True)
class Reply:
    rule: str
    template: str  # as written in the rule
    text: str  # the template with {author}, {platform}, {rule} filled in
    dry_run: bool


@dataclass(frozen=True, slots=True)
class Escalation:
    rule: str
    route: str
    after: timedelta  # escalate when the alert is still unacknowledged after this


@dataclass(frozen=True, slots=True)
class Verdict:
    sentiment: float
    urgency: int  # 0..100
    reasons: tuple[Reason, ...]  # shown as "refund +25", "followers 48k +15", …
    rules: tuple[str, ...]  # names of the rules that matched, in evaluation order
    alerts: tuple[Alert, ...]
    needs_response: bool
    ignored_by: str = ""  # the rule whose `ignore` dropped the mention
    replies: tuple[Reply, ...] = ()  # at most one: a customer never gets two automatic answers
    tags: tuple[str, ...] = ()
    escalations: tuple[Escalation, ...] = ()
    is_question: bool = False
