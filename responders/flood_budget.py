"""How many messages a staff chat may still take this minute (Telegram's per-group limit),
counted in the database so that several nodes share it."""

import asyncio
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Protocol

from core.clock import Clock

TELEGRAM_PER_MINUTE = 20  # messages a minute into one group


class BudgetLedger(Protocol):
    """Where every node's sends are counted (core.store.Store, on the shared database)."""

    def spend_telegram(
        self, chat_id: str, now: datetime, per_minute: int | None
    ) -> tuple[bool, list[float]]: ...

    def telegram_sends(self, chat_ids: Iterable[str], now: datetime) -> dict[str, list[float]]: ...


class FloodBudget:
    """Messages and edits per chat in the last minute, on the service's clock, by every node.

    PTB's AIORateLimiter would also hold calls back, but by waiting: a storm would stall the
    service for minutes. Counting here lets the service decide to group instead of waiting.
    The count lives in the database, so nodes sharing it share each chat's 20 a minute: `take`
    checks and counts a send in one transaction. `left` and `next_free` answer from the chat's
    sends as last read (by each `take`, and by `refresh` before the service plans a batch), so
    planning costs no query; when another node took the room since, `take` refuses the send.
    """

    def __init__(
        self, clock: Clock, ledger: BudgetLedger, per_minute: int = TELEGRAM_PER_MINUTE - 2
    ):
        self.clock = clock
        self.ledger = ledger
        self.per_minute = per_minute
        self._sends: dict[str, list[float]] = {}  # chat -> POSIX seconds, oldest first

    def left(self, chat_id: int | str) -> int:
        return self.per_minute - len(self._recent(str(chat_id)))

    async def take(self, chat_id: int | str) -> bool:
        """Count one send into the chat if the minute has room for it; False: it has none."""
        return await self._spend(str(chat_id), self.per_minute)

    async def record(self, chat_id: int | str) -> None:
        """Count a send that goes out whatever the budget (an answer to a staff command)."""
        await self._spend(str(chat_id), None)

    async def refresh(self, chat_ids: Iterable[int | str]) -> None:
        """Read the chats' sends of the last minute again, other nodes' included."""
        chats = {str(chat) for chat in chat_ids}
        if chats:
            now = self.clock.now()
            self._sends.update(await asyncio.to_thread(self.ledger.telegram_sends, chats, now))

    def next_free(self, chat_id: int | str) -> datetime:
        calls = self._recent(str(chat_id))
        if len(calls) < self.per_minute:
            return self.clock.now()
        oldest = calls[len(calls) - self.per_minute]
        return datetime.fromtimestamp(oldest, UTC) + timedelta(minutes=1)

    def busiest_minute(self, chat_id: int | str) -> int:
        """Calls in the last minute (what a test or a health check compares with the limit)."""
        return len(self._recent(str(chat_id)))

    async def _spend(self, chat_id: str, per_minute: int | None) -> bool:
        now = self.clock.now()
        spent, sends = await asyncio.to_thread(self.ledger.spend_telegram, chat_id, now, per_minute)
        self._sends[chat_id] = sends
        return spent

    def _recent(self, chat_id: str) -> list[float]:
        horizon = (self.clock.now() - timedelta(minutes=1)).timestamp()
        calls = [moment for moment in self._sends.get(chat_id, []) if moment > horizon]
        self._sends[chat_id] = calls
        return calls
