"""What every listener is: one small `fetch(cursor) -> Batch`; the poll job owns everything else."""

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar, Protocol, Self

from core.mention import Mention


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


@dataclass(frozen=True, slots=True)
class GapCursor:
    """Where a newest-first source left off, stored as JSON with the source's own key names.

    `since` is the newest item saved. When a burst was bigger than one poll may fetch, `until`
    and `high` remember the gap still to fill below `high`, so the next poll continues downwards
    and the cursor never jumps past an item nobody fetched.
    """

    since: str | None = None
    until: str | None = None
    high: str | None = None
    KEYS: ClassVar[tuple[str, str, str]] = ("since", "until", "high")

    @classmethod
    def parse(cls, text: str | None) -> Self:
        if not text:
            return cls()
        data = json.loads(text)
        return cls(*(data.get(key) for key in cls.KEYS))

    def dump(self) -> str:
        values = zip(self.KEYS, (self.since, self.until, self.high), strict=True)
        return json.dumps({key: value for key, value in values if value})

    def advanced(self, newest: str | None, oldest: str | None, complete: bool) -> str | None:
        """The cursor to store after a fetch from the top that reached `newest` … `oldest`.

        `complete`: the fetch came down to `since` (or ran out of items), so the gap is closed
        and the newest item ever reached becomes `since`. Otherwise a page cap stopped it and
        the next poll continues below `oldest`; a poll that reached no item at all keeps the
        old `until`, since dropping it would send the next poll back to the top of the gap.
        """
        high = self.high or newest
        if complete:
            since = high or self.since
            return type(self)(since=since).dump() if since else None
        return type(self)(since=self.since, until=oldest or self.until, high=high).dump()


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


class PushSource(Listener, Protocol):
    """A source the platform pushes to (Telegram updates; X's filtered stream next).

    It holds what arrived until a stored cursor covers it, and `fetch(cursor)` hands that over:
    a push is saved by the same path as a poll (service/polling.py `SourcePoller.push`), and a
    failed save loses nothing, since the next fetch returns the same items again.
    """
