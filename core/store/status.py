"""Each source's health: when it last polled, and whether it is in a run of failures."""

from datetime import datetime
from typing import Any

from sqlalchemy import case, or_, select
from sqlmodel import Session

from core.models import SourceStatusRow
from core.store._db import StoreBase


class SourceStatus(StoreBase):
    def record_poll(self, source: str, node: str, now: datetime, problem: str) -> None:
        """Remember how `source`'s poll at `now` went ("" problem: it worked)."""
        values: dict[str, Any] = {
            "source": source,
            "node": node,
            "last_attempt_at": now,
            "problem": problem[:500],
            "problem_since": now if problem else None,
        }
        if not problem:
            values["last_success_at"] = now
        changes: dict[str, Any] = {"node": node, "last_attempt_at": now, "problem": problem[:500]}
        if problem:
            # Since when it fails: the first failure of a run of failures.
            changes["problem_since"] = case(
                (SourceStatusRow.problem_since.is_(None), now), else_=SourceStatusRow.problem_since
            )
        else:
            changes.update(last_success_at=now, problem_since=None)
        self._upsert_status(values, changes)

    def record_stream(self, source: str, node: str, now: datetime, figures: dict[str, Any]) -> None:
        """Remember the figures of `source`'s own connection (X's filtered stream) at `now`."""
        values = {"source": source, "node": node, "last_attempt_at": now, "stream": figures}
        self._upsert_status(values, {"node": node, "stream": figures})

    def _upsert_status(self, values: dict[str, Any], changes: dict[str, Any]) -> None:
        statement = self._insert(SourceStatusRow).values(values)
        with self.engine.begin() as connection:
            connection.execute(
                statement.on_conflict_do_update(index_elements=["source"], set_=changes)
            )

    def source_statuses(self) -> list[SourceStatusRow]:
        """Every source's status row, by source name."""
        with Session(self.engine) as session:
            query = select(SourceStatusRow).order_by(SourceStatusRow.source)
            return list(session.scalars(query))

    def source_problem_started(self, source: str) -> bool:
        """True when `source`'s last poll began a run of failures that no other source of its
        platform was already in (one refused key stops them all: staff hear of it once)."""
        platform = source.partition(":")[0]
        status = SourceStatusRow
        with Session(self.engine) as session:
            row = session.get(status, source)
            if not (row and row.problem and row.problem_since == row.last_attempt_at):
                return False
            earlier = select(status.source).where(
                status.source.startswith(f"{platform}:"),
                status.source != source,
                status.problem != "",
                or_(
                    status.problem_since < row.problem_since,
                    (status.problem_since == row.problem_since) & (status.source < source),
                ),
            )
            return session.scalars(earlier).first() is None
