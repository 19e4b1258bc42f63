"""What every responder is: perform one outbox action, or say when to try again."""

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Outcome:
    """Where the performed action now lives on its platform."""

    chat_id: str = ""
    message_id: int = 0
    ref: str = ""  # a platform id, e.g. the reply tweet's id


class ResponderError(Exception):
    """Performing an action failed. `retry_at` None means retrying cannot help."""

    def __init__(self, message: str, retry_at: datetime | None):
        super().__init__(message)
        self.retry_at = retry_at
