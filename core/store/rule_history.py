"""What the rules did to the stored mentions: fire counts, and the mentions a backtest replays."""

from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlmodel import Session

from core.mention import Mention
from core.models import MentionRow
from core.store._db import StoreBase

Query = TypeVar("Query", bound=Select[Any])


class RuleHistory(StoreBase):
    def rule_fires(self, since: datetime, until: datetime) -> Counter[str]:
        """Mentions each rule matched among those created in [since, until)."""
        query = (
            select(MentionRow.rules)
            .where(MentionRow.created_at >= since, MentionRow.created_at < until)
            .execution_options(yield_per=1000)
        )
        fires: Counter[str] = Counter()
        with Session(self.engine) as session:
            for rules in session.scalars(query):
                fires.update(set(rules or ()))
        return fires

    def count_replayable(self, since: datetime, until: datetime | None = None) -> int:
        """How many stored mentions `replay_mentions` would yield."""
        query = _span(select(func.count()).select_from(MentionRow), since, until)
        with Session(self.engine) as session:
            return session.scalar(query) or 0

    def replay_mentions(
        self, since: datetime, until: datetime | None = None
    ) -> Iterator[tuple[int, Mention]]:
        """(id, mention) of the mentions created from `since` (to `until`), oldest first, read
        in pages so a long span never sits in memory at once."""
        query = _span(select(MentionRow), since, until).order_by(
            MentionRow.created_at, MentionRow.id
        )
        with Session(self.engine) as session:
            for row in session.scalars(query.execution_options(yield_per=500)):
                yield row.id or 0, row.to_mention()


def _span(query: Query, since: datetime, until: datetime | None) -> Query:
    query = query.where(MentionRow.created_at >= since)
    return query if until is None else query.where(MentionRow.created_at < until)
