"""The SQL expressions the period figures share: a moment's local day, exact microseconds
between two moments, and each alert classified by the report's definitions (service/report.py's
docstring) as CASE, the one copy of those rules. SQLite and PostgreSQL spell them differently.
"""

import sqlite3
from datetime import UTC, datetime, tzinfo
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Integer, and_, case, cast, func, or_, select

from core.models import AlertRow, MentionRow, ReplyRow

# SQLite's unixepoch() came with 3.38 (2022); older libraries count seconds with strftime('%s').
_UNIXEPOCH = sqlite3.sqlite_version_info >= (3, 38)


class Outcome(StrEnum):
    """What an alert counts as for the SLA (the CASE in `Dialect.alerts` decides it)."""

    WITHIN = "within"  # first response at or before the deadline
    MISSED = "missed"  # after it, or none and the deadline passed within the period
    PENDING = "pending"  # no response yet, deadline still ahead
    NOT_RELEVANT = "not_relevant"


def standing(since: datetime, until: datetime) -> Any:
    """Alerts opened in the period that stand for a customer waiting (not counted in another
    alert's message, muted, or a spike's window)."""
    opened = and_(AlertRow.created_at >= since, AlertRow.created_at < until)
    return and_(opened, AlertRow.delivery == "sent", AlertRow.kind != "window")


def author_of() -> Any:
    """An author: their id on the platform, else their handle."""
    return func.coalesce(func.nullif(MentionRow.author_id, ""), MentionRow.author_handle)


class Dialect:
    """The expressions SQLite and PostgreSQL spell differently: seconds since the epoch, the
    day in the brand's zone (an offset per stretch between the zone's changes of offset), and
    exact microseconds between two moments (julianday() would round to milliseconds)."""

    def __init__(self, name: str, zone: tzinfo, since: datetime, until: datetime):
        self.sqlite = name == "sqlite"
        self.offsets = offset_changes(zone, since, until)

    def epoch(self, moment: Any) -> Any:
        if self.sqlite:
            if _UNIXEPOCH:  # the same whole seconds, parsed about twice as fast
                return func.unixepoch(moment)
            return cast(func.strftime("%s", moment), Integer)
        return cast(func.floor(func.extract("epoch", moment)), BigInteger)

    def day(self, moment: Any) -> Any:
        """Days from 1970-01-01 to `moment`'s local date."""
        first, changes = self.offsets
        offset: Any = first
        if changes:
            offset = case(
                *((moment < at, before) for at, before, _after in changes), else_=changes[-1][2]
            )
        return (self.epoch(moment) + offset) // 86400

    def micros(self, later: Any, earlier: Any) -> Any:
        if self.sqlite:
            # Stored as "YYYY-MM-DD HH:MM:SS.ffffff": whole seconds, then the digits after.
            def fraction(moment: Any) -> Any:
                return cast(func.substr(moment, 21, 6), Integer)

            whole = self.epoch(later) - self.epoch(earlier)
            return whole * 1_000_000 + fraction(later) - fraction(earlier)
        return cast(func.extract("epoch", later - earlier) * 1_000_000, BigInteger)

    def alerts(self, stands: Any, until: datetime) -> Any:
        """One row per alert standing for a customer waiting, as `AlertFigure` holds it, in
        the order they were opened."""
        written = MentionRow.created_at  # the alerted mention's; none for a window's
        created = AlertRow.created_at
        start = case((and_(written.is_not(None), written < created), written), else_=created)
        relevant = AlertRow.state != "not_relevant"
        resolved = and_(AlertRow.state == "resolved", AlertRow.resolved_at.is_not(None))
        resolved_first = or_(
            AlertRow.answered_at.is_(None), AlertRow.resolved_at < AlertRow.answered_at
        )
        response = case(
            (~relevant, None),
            (and_(resolved, resolved_first), AlertRow.resolved_at),
            else_=AlertRow.answered_at,
        )
        due = AlertRow.due_at
        outcome = case(
            (~relevant, Outcome.NOT_RELEVANT.value),
            (response.is_not(None), case((or_(due.is_(None), response <= due),
                                          Outcome.WITHIN.value), else_=Outcome.MISSED.value)),
            (and_(due.is_not(None), due <= until), Outcome.MISSED.value),
            else_=Outcome.PENDING.value,
        )  # fmt: skip
        answered_by = case((AlertRow.answered_at.is_not(None), AlertRow.answered_by), else_="")
        resolved_by = case((AlertRow.state == "resolved", AlertRow.resolved_by), else_="")
        responder = case(
            (response.is_(None), ""),
            (AlertRow.answered_at == response, AlertRow.answered_by),
            else_=AlertRow.resolved_by,
        )
        return (
            select(
                self.day(created).label("day"),
                outcome.label("outcome"),
                self.micros(response, start).label("response_us"),
                case((and_(relevant, resolved), self.micros(AlertRow.resolved_at, start))).label(
                    "resolution_us"
                ),
                AlertRow.acknowledged_by.label("claimed_by"),
                answered_by.label("replied_by"),
                resolved_by.label("resolved_by"),
                responder.label("responder"),
                AlertRow.mention_id.label("mention_id"),
            )
            .select_from(AlertRow)
            .outerjoin(MentionRow, MentionRow.id == AlertRow.mention_id)
            .where(stands)
            .order_by(AlertRow.id)
        )

    def bot_touches(self, in_period: Any) -> Any:
        """Per mention written in the period, its first automatic reply sent (a rule's or the
        SLA watcher's, not an agent's), in microseconds from when it was written."""
        return (
            select(
                ReplyRow.mention_id,
                func.min(self.micros(ReplyRow.sent_at, MentionRow.created_at)).label("micros"),
            )
            .select_from(ReplyRow)
            .join(MentionRow, MentionRow.id == ReplyRow.mention_id)
            .where(
                in_period,
                ReplyRow.automatic.is_(True),
                ReplyRow.state == "sent",
                ReplyRow.sent_at.is_not(None),
            )
            .group_by(ReplyRow.mention_id)
        )


def offset_changes(
    zone: tzinfo, since: datetime, until: datetime
) -> tuple[int, list[tuple[datetime, int, int]]]:
    """`zone`'s UTC offset in seconds at `since`, and each change before `until` as (moment,
    offset before, offset from then on), found day by day (no zone changes twice in a day),
    then to the second."""

    def offset(moment: datetime) -> int:
        found = moment.astimezone(zone).utcoffset()
        return int(found.total_seconds()) if found else 0

    first = current = offset(since)
    changes: list[tuple[datetime, int, int]] = []
    low = int(since.timestamp())
    end = int(until.timestamp())
    while low < end:
        high = min(low + 86400, end)
        if offset(datetime.fromtimestamp(high, UTC)) != current:
            while high - low > 1:  # offset(low) is `current`, offset(high) is not
                middle = (low + high) // 2
                if offset(datetime.fromtimestamp(middle, UTC)) == current:
                    low = middle
                else:
                    high = middle
            moment = datetime.fromtimestamp(high, UTC)
            changes.append((moment, current, offset(moment)))
            current = offset(moment)
        low = high
    return first, changes
