"""Why a mention got its urgency: one `Reason` per part of the score, stored as structured JSON.

A reason's text ("refund +25", "followers 48k +15") is made from its fields for people to read;
nothing reads the fields back out of that text. Rows written before reasons were structured
held only the text: `Reason.from_text` reads those once (migration 0008, and callers that still
hand in text), and is the only place that looks inside one.
"""

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, TypeDecorator
from sqlalchemy.engine import Dialect


class ReasonKind(StrEnum):
    """Where the points came from."""

    TRIAGE = "triage"  # a triage signal: sentiment, a lexicon term, the learned model, intent
    KEYWORD = "keyword"  # a fired rule's keyword
    REACH = "reach"  # the author's followers
    VERIFIED = "verified"
    REPEAT = "repeat"  # the author wrote before within the repeat window
    QUESTION = "question"
    NOTE = "note"  # no points: why the mention was not scored at all
    UNKNOWN = "unknown"  # read from the text of a row written before reasons had kinds


@dataclass(frozen=True, slots=True)
class Reason:
    label: str  # what staff read: "refund", "VADER -0.71", "followers 48k"
    points: int | None  # None for a note that gives no points
    kind: ReasonKind
    topic: str = ""  # what reports count it under ("followers" for every reach); "" = label

    def __str__(self) -> str:
        return self.label if self.points is None else f"{self.label} {self.points:+d}"

    @property
    def counted_as(self) -> str:
        return self.topic or self.label

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "points": self.points, "kind": self.kind, "topic": self.topic}

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> "Reason":
        return cls(
            label=str(value["label"]),
            points=None if value.get("points") is None else int(value["points"]),
            kind=ReasonKind(value.get("kind", ReasonKind.UNKNOWN)),
            topic=str(value.get("topic", "")),
        )

    @classmethod
    def from_text(cls, text: str) -> "Reason":
        """A reason as rows before migration 0008 stored it: its display text."""
        found = _POINTS.fullmatch(text)
        if not found:
            return cls(text, None, ReasonKind.NOTE)
        label, points = found.group(1), int(found.group(2))
        topic = measured_topic(label)
        kind = _KNOWN_TOPICS.get(topic or label, ReasonKind.UNKNOWN)
        return cls(label, points, kind, topic)


def measured_topic(label: str) -> str:
    """The topic of a label that carries a measure of its own ("VADER -0.71" → "VADER"), so
    reports count one reason, not one per value; "" for a plain label."""
    measured = _MEASURED.match(label)
    return measured.group(1) if measured else ""


_POINTS = re.compile(r"(.+) ([+-]\d+)", re.DOTALL)
# Labels carrying a number of their own ("VADER -0.71", "followers 48k", "repeat: 2 earlier …")
# were counted under their first word, so one reason is not split per value.
_MEASURED = re.compile(r"^([^\W\d][\w-]*):?\s[-+]?\d")
_KNOWN_TOPICS = {
    "followers": ReasonKind.REACH,
    "repeat": ReasonKind.REPEAT,
    "verified": ReasonKind.VERIFIED,
    "VADER": ReasonKind.TRIAGE,
    "model": ReasonKind.TRIAGE,
}


def as_reason(value: "Reason | str | dict[str, Any]") -> Reason:
    """A reason from what a caller or a row holds: a Reason, its JSON, or the older text."""
    if isinstance(value, Reason):
        return value
    if isinstance(value, dict):
        return Reason.from_json(value)
    return Reason.from_text(str(value))


class ReasonList(TypeDecorator[list[Reason]]):
    """A JSON column of reasons: written as objects, read back as `Reason`s."""

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> list[dict[str, Any]] | None:
        if value is None:
            return None
        return [as_reason(item).to_json() for item in value]

    def process_result_value(self, value: Any, dialect: Dialect) -> list[Reason] | None:
        if value is None:
            return None
        return [as_reason(item) for item in value]
