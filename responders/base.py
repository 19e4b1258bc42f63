"""What every responder is: it performs a batch of its kind of outbox action and says how far it
got, so the one outbox drain can pause that kind and hand the rest back in order."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from core.store import OutboxItem


@dataclass(frozen=True, slots=True)
class Outcome:
    """Where the performed action now lives on its platform."""

    ref: str = ""  # a platform id, e.g. the reply tweet's id


@dataclass(frozen=True, slots=True)
class Settled:
    """How far a responder got with a batch.

    Every action it attempted is settled in the store (sent, counted, or failed with its retry
    time). With `retry_at`, its channel must wait until then: `unattempted` are the actions it
    did not get to, handed back in order; `problem` says why, "" for a planned wait (pacing).
    """

    done: int
    retry_at: datetime | None = None
    unattempted: tuple[int, ...] = ()
    problem: str = ""


class Responder(Protocol):
    kind: str  # the outbox kind it performs
    batch_size: int
    # Whether it reads the mentions' platform payloads (`Mention.raw`): the drain loads them
    # only then (a Telegram reply needs the message's topic; an alert needs none).
    reads_raw: bool

    async def perform(self, items: Sequence[OutboxItem]) -> Settled: ...

    async def flush(self) -> None:
        """Work of its own after a drain (edits of messages whose counts went up)."""


class ResponderError(Exception):
    """Performing an action failed. `retry_at` None means retrying cannot help."""

    def __init__(self, message: str, retry_at: datetime | None):
        super().__init__(message)
        self.retry_at = retry_at
