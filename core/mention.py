"""A mention: the plain value listeners produce, rules read and the store keeps.

Apart from the tables (core/models.py) so that what only reads mentions (the rules, `rules test`)
imports no ORM.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Mention:
    platform: str  # "x", "reddit", "telegram"
    external_id: str  # the platform's id: tweet id, Reddit fullname, "chat_id:message_id"
    text: str
    created_at: datetime  # aware, UTC
    source: str = ""  # the configured source that found it, e.g. "x:mentions"
    url: str = ""
    author_id: str = ""
    author_handle: str = ""
    author_followers: int = 0
    author_verified: bool = False
    author_is_bot: bool = False
    lang: str = ""
    conversation_id: str = ""
    in_reply_to_id: str = ""
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
