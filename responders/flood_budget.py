"""How many messages a staff chat may still take this minute (Telegram's per-group limit)."""

from collections import deque
from datetime import datetime, timedelta

from core.clock import Clock

TELEGRAM_PER_MINUTE = 20  # messages a minute into one group


class FloodBudget:
    """Messages and edits per chat in the last minute, on the service's clock.

    PTB's AIORateLimiter would also hold calls back, but by waiting: a storm would stall the
    service for minutes. Counting here lets the service decide to group instead of waiting.
    """

    def __init__(self, clock: Clock, per_minute: int = TELEGRAM_PER_MINUTE - 2):
        self.clock = clock
        self.per_minute = per_minute
        self._calls: dict[str, deque[datetime]] = {}

    def left(self, chat_id: int | str) -> int:
        return self.per_minute - len(self._recent(str(chat_id)))

    def spend(self, chat_id: int | str) -> None:
        self._recent(str(chat_id)).append(self.clock.now())

    def next_free(self, chat_id: int | str) -> datetime:
        calls = self._recent(str(chat_id))
        if len(calls) < self.per_minute:
            return self.clock.now()
        return calls[len(calls) - self.per_minute] + timedelta(minutes=1)

    def busiest_minute(self, chat_id: int | str) -> int:
        """Calls in the last minute (what a test or a health check compares with the limit)."""
        return len(self._recent(str(chat_id)))

    def _recent(self, chat_id: str) -> deque[datetime]:
        calls = self._calls.setdefault(chat_id, deque())
        horizon = self.clock.now() - timedelta(minutes=1)
        while calls and calls[0] <= horizon:
            calls.popleft()
        return calls
