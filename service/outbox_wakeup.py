"""New work for the outbox drain and the SLA watcher, heard as this process writes it.

A long-running node sleeps until the next moment it knows of (service/scheduler.Alarm). What
is written meanwhile — an alert queued by a poll, a reply sent from the web console, a claim
tapped in Telegram, a dead node's actions recovered, a group counted and due for an edit —
must wake it, wherever in the code the write happens. So the node listens to its own database
engine: each INSERT, UPDATE or DELETE on a table the drain or the watcher acts on calls back on
the event loop. Other processes' writes are found when the sleepers look around anyway.
"""

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.sql.dml import UpdateBase

from core.models import AlertRow, OutboxRow, ReplyRow, TelegramBudgetRow

# Actions to perform, alerts to edit or watch, replies to note, and each chat's minute budget
# (a send frees room a minute later for what waits on it).
WORK_TABLES = frozenset(
    model.__table__.name  # type: ignore[attr-defined]
    for model in (OutboxRow, AlertRow, ReplyRow, TelegramBudgetRow)
)


def listen_for_work(
    engine: Engine, loop: asyncio.AbstractEventLoop, on_work: Callable[[], None]
) -> Callable[[], None]:
    """Call `on_work` on `loop` after each write to a work table through `engine`, from any
    thread; returns what stops listening."""

    def written(_connection: Any, statement: Any, *_rest: Any) -> None:
        if not isinstance(statement, UpdateBase) or statement.table.name not in WORK_TABLES:
            return
        # A store call still finishing in a worker thread as the node's loop closes: no one
        # is left to wake.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(on_work)

    event.listen(engine, "after_execute", written)
    return lambda: event.remove(engine, "after_execute", written)
