"""Silences: a rule muted until a time."""

from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session

from core.models import SilenceRow
from core.store._db import StoreBase


class Silences(StoreBase):
    def add_silence(self, rule: str, until: datetime, by: str, now: datetime) -> SilenceRow:
        with Session(self.engine) as session, session.begin():
            silence = SilenceRow(rule=rule, until=until, created_at=now, created_by=by)
            session.add(silence)
            session.flush()
            session.expunge(silence)
            return silence

    def silences(self, now: datetime) -> list[SilenceRow]:
        """Silences in force at `now`; expired ones simply stop matching."""
        with Session(self.engine) as session:
            query = select(SilenceRow).where(SilenceRow.until > now).order_by(SilenceRow.id)
            return list(session.scalars(query))
