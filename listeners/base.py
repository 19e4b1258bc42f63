"""What every listener is: one small `fetch(cursor) -> Batch`; the poll job owns everything else."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar, Protocol

from pydantic import BaseModel

from core.models import Mention


@dataclass(frozen=True, slots=True)
class RateBudget:
    """What the platform said about the rate limit of the last call."""

    limit: int
    remaining: int
    reset_at: datetime


@dataclass(frozen=True, slots=True)
class Batch:
    mentions: list[Mention]
    # The cursor to store with these mentions; None keeps the stored one.
    next_cursor: str | None
    calls: int = 1  # API calls this fetch spent (for budgets and benchmarks)
    rate: RateBudget | None = None
    # True when more items wait behind a per-poll page cap: poll again soon, not after the interval.
    more: bool = False
    skipped: list[str] = field(default_factory=list)  # malformed items, described for the log


class ListenerError(Exception):
    """A fetch failed; the stored cursor stays where it was."""


class ListenerUnavailable(ListenerError):
    """The platform could not be reached or answered with a server error: retry with backoff."""


class ListenerAuthFailed(ListenerError):
    """Credentials were refused (401/403): retrying soon will not help, staff must look."""


class RateLimited(ListenerError):
    def __init__(self, message: str, reset_at: datetime):
        super().__init__(message)
        self.reset_at = reset_at


class Listener(Protocol):
    platform: ClassVar[str]
    source: str  # unique name of the configured source, e.g. "x:mentions"

    async def fetch(self, cursor: str | None) -> Batch: ...


class ListenerConfig(BaseModel):
    """Options every polled source has."""
