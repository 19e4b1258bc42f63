"""Each source's health: when it last polled, and whether it is in a run of failures."""

from sqlalchemy import or_, select
from sqlmodel import Session

from core.models import SourceStatusRow
from core.store._db import StoreBase


class SourceStatus(StoreBase):
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
