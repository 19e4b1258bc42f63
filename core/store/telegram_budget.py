"""Each Telegram chat's minute budget, shared by every node on the database.

Checking and spending happen in one transaction on the chat's row: the upsert that opens it
locks the row on PostgreSQL (a second node waits for the first's commit, then counts its send)
and, as the transaction's first statement, takes SQLite's write lock, so processes sharing one
file queue up the same way.
"""

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import select, update

from core.models import TelegramBudgetRow
from core.store._db import StoreBase

MINUTE = timedelta(minutes=1)


class TelegramBudget(StoreBase):
    def spend_telegram(
        self, chat_id: str, now: datetime, per_minute: int | None
    ) -> tuple[bool, list[float]]:
        """Count a send into `chat_id` at `now` if fewer than `per_minute` were made in the
        minute before it (None: count it anyway); whether it was counted, and the chat's sends
        of the last minute (POSIX seconds, oldest first) after it."""
        row = TelegramBudgetRow
        with self.engine.begin() as connection:
            connection.execute(
                self._insert(row)
                .values(chat_id=chat_id, sends=[])
                .on_conflict_do_update(index_elements=["chat_id"], set_={"chat_id": chat_id})
            )
            stored = connection.execute(
                select(row.sends).where(row.chat_id == chat_id).with_for_update()
            ).scalar_one()
            sends = _within_minute(stored, now)
            spent = per_minute is None or len(sends) < per_minute
            if spent:
                sends.append(now.timestamp())
            connection.execute(update(row).where(row.chat_id == chat_id).values(sends=sends))
        return spent, sends

    def telegram_sends(self, chat_ids: Iterable[str], now: datetime) -> dict[str, list[float]]:
        """The sends of the minute before `now` into each of `chat_ids`, by every node."""
        wanted = list(chat_ids)
        row = TelegramBudgetRow
        with self.engine.connect() as connection:
            found = connection.execute(
                select(row.chat_id, row.sends).where(row.chat_id.in_(wanted))
            ).all()
        sends = {chat: _within_minute(stored, now) for chat, stored in found}
        return {chat: sends.get(chat, []) for chat in wanted}


def _within_minute(stored: list[float], now: datetime) -> list[float]:
    horizon = (now - MINUTE).timestamp()
    return sorted(moment for moment in stored if moment > horizon)
