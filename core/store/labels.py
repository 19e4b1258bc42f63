"""Agents' decisions read back as triage labels: what `main.py triage train --from-db` learns.

A mention needs a response when an agent answered it (a sent reply that was not automatic, or
an alert marked answered); it needed none when an agent marked it "not relevant", or resolved
its alert without any reply going out. Mentions with neither are not labels: nobody decided.
"""

from dataclasses import dataclass

from sqlalchemy import exists, or_, select
from sqlmodel import Session

from core.models import AlertRow, MentionRow, ReplyRow
from core.store._db import StoreBase


@dataclass(frozen=True, slots=True)
class LabelledMention:
    text: str
    lang: str  # the platform's language code, "" when it gave none
    needs_response: bool


class TriageLabels(StoreBase):
    def triage_labels(self) -> list[LabelledMention]:
        """Every mention an agent decided on, oldest first (the brand's own posts excluded)."""
        agent_reply = exists().where(
            ReplyRow.mention_id == MentionRow.id,
            ReplyRow.state == "sent",
            ReplyRow.automatic.is_(False),
        )
        answered_alert = exists().where(
            AlertRow.mention_id == MentionRow.id, AlertRow.answered_at.is_not(None)
        )
        any_reply = exists().where(ReplyRow.mention_id == MentionRow.id, ReplyRow.state == "sent")
        resolved_silently = exists().where(
            AlertRow.mention_id == MentionRow.id,
            AlertRow.state == "resolved",
            AlertRow.answered_at.is_(None),
        )
        answered = or_(agent_reply, answered_alert)
        dismissed = or_(MentionRow.feedback == "not_relevant", resolved_silently & ~any_reply)
        query = (
            select(MentionRow.text, MentionRow.lang, answered)
            .where(MentionRow.status != "ours", or_(answered, dismissed))
            .order_by(MentionRow.id)
        )
        with Session(self.engine) as session:
            return [
                LabelledMention(text, lang or "", bool(needs))
                for text, lang, needs in session.execute(query)
            ]
