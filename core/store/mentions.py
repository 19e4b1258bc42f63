"""Cursors and mentions: a polled batch, its triage, its actions and its cursor in one go."""

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from functools import cached_property
from typing import Any

from sqlalchemy import ColumnElement, any_, bindparam, func, select, union
from sqlmodel import Session

from core.mention import Mention
from core.models import CursorRow, MentionRow, OutboxRow
from core.store._db import BulkInsert, StoreBase
from core.store.outbox import outbox_values
from core.store.records import Decision, Ingested

# Rows inserted a statement: one listing page of X or Reddit (100 items).
ROWS_A_STATEMENT = 100


class Mentions(StoreBase):
    def cursor(self, source: str) -> str | None:
        with Session(self.engine) as session:
            row = session.get(CursorRow, source)
            return row.value if row else None

    def ingest(
        self,
        source: str,
        mentions: Sequence[Mention],
        next_cursor: str | None,
        decide: Callable[[Mention], Decision],
        now: datetime,
        triage_after: datetime | None = None,
    ) -> list[Ingested]:
        """Save `mentions`, triage the new ones, queue their actions, move the cursor: atomically.

        Mentions created before `triage_after` (the first start's backfill window) are stored so
        they are never fetched again, but not triaged: nobody wants yesterday's flood of alerts.
        """
        unique = _unique(mentions)
        decisions: dict[tuple[str, str], Decision | None] = {}
        for mention in unique:
            fresh = triage_after is None or mention.created_at >= triage_after
            decisions[(mention.platform, mention.external_id)] = decide(mention) if fresh else None
        by_key = {(m.platform, m.external_id): m for m in mentions}
        ingested: list[Ingested] = []
        with Session(self.engine) as session, session.begin():
            # A statement a page: a burst's rows, their JSON and the driver's parameters all
            # at once cost a catching-up poll of 1,000 posts 10-14 MB of peak RSS (issue 19).
            for start in range(0, len(unique), ROWS_A_STATEMENT):
                rows = [
                    _mention_row(mention, decisions[(mention.platform, mention.external_id)], now)
                    for mention in unique[start : start + ROWS_A_STATEMENT]
                ]
                page = []
                for mention_id, platform, external_id in self._mention_insert.run(session, rows):
                    key = (platform, external_id)
                    page.append(Ingested(mention_id, by_key[key], decisions[key]))
                outbox = [
                    outbox_values(item.mention_id, action, now)
                    for item in page
                    if item.decision
                    for action in item.decision.actions
                ]
                self._outbox_insert.run(session, outbox)
                ingested += page
            if next_cursor is not None:
                self._save_cursor(session, source, next_cursor, now)
        ingested.sort(key=lambda item: item.mention_id)
        return ingested

    @cached_property
    def _mention_insert(self) -> BulkInsert:
        # Core inserts on the table: the ORM's per-row bookkeeping is a third of the
        # pipeline's time at 100 mentions a page, and buys nothing here.
        table = MentionRow.__table__
        return BulkInsert(
            self.engine,
            table,
            conflict=["platform", "external_id"],
            returning=[table.c.id, table.c.platform, table.c.external_id],
        )

    @cached_property
    def _outbox_insert(self) -> BulkInsert:
        return BulkInsert(self.engine, OutboxRow.__table__, conflict=["key"])

    def _save_cursor(self, session: Session, source: str, value: str, now: datetime) -> None:
        statement = self._insert(CursorRow).values(source=source, value=value, updated_at=now)
        session.execute(
            statement.on_conflict_do_update(
                index_elements=["source"],
                set_={"value": statement.excluded.value, "updated_at": now},
            )
        )

    def mention(self, mention_id: int) -> MentionRow | None:
        with Session(self.engine) as session:
            return session.get(MentionRow, mention_id)

    def mentions(self, since: datetime | None = None) -> list[MentionRow]:
        with Session(self.engine) as session:
            query = select(MentionRow).order_by(MentionRow.id)
            if since is not None:
                query = query.where(MentionRow.created_at >= since)
            return list(session.scalars(query))

    def count_mentions(self) -> int:
        with Session(self.engine) as session:
            return session.scalar(select(func.count()).select_from(MentionRow)) or 0

    def mentions_between(
        self, after: datetime, until: datetime, platforms: Iterable[str] = ()
    ) -> list[Any]:
        """What window rules count of the mentions created in (`after`, `until`]: rows with
        platform, source, author_id, author_handle, conversation_id, rules and created_at."""
        query = select(
            MentionRow.platform,
            MentionRow.source,
            MentionRow.author_id,
            MentionRow.author_handle,
            MentionRow.conversation_id,
            MentionRow.rules,
            MentionRow.created_at,
        ).where(MentionRow.created_at > after, MentionRow.created_at <= until)
        if platforms:
            query = query.where(MentionRow.platform.in_(list(platforms)))
        with Session(self.engine) as session:
            return list(session.execute(query))

    def newest_by_source(
        self, until: datetime, platforms: Iterable[str] = ()
    ) -> list[tuple[str, datetime]]:
        """(source, its newest mention created up to `until`) of every source."""
        query = (
            select(MentionRow.source, func.max(MentionRow.created_at))
            .where(MentionRow.created_at <= until)
            .group_by(MentionRow.source)
        )
        if platforms:
            query = query.where(MentionRow.platform.in_(list(platforms)))
        with Session(self.engine) as session:
            return [(source, created) for source, created in session.execute(query)]

    def mentions_by_authors(
        self, handles: Iterable[str], author_ids: Iterable[str], since: datetime
    ) -> list[Any]:
        """Mentions created from `since` on by any of these handles or author ids: rows with
        platform, external_id, author_handle, author_id and created_at."""
        columns = (
            MentionRow.platform,
            MentionRow.external_id,
            MentionRow.author_handle,
            MentionRow.author_id,
            MentionRow.created_at,
        )
        handles, author_ids = list(handles), list(author_ids)
        if self.engine.dialect.name != "postgresql":
            # SQLite answers the OR with one range a side of the same (key, created_at)
            # indexes by itself, and faster than a UNION's de-duplication.
            query = select(*columns).where(
                MentionRow.created_at >= since,
                MentionRow.author_handle.in_(handles) | MentionRow.author_id.in_(author_ids),
            )
            with Session(self.engine) as session:
                return list(session.execute(query))
        # PostgreSQL: one SELECT per kind of author key, each a range of its (key, created_at)
        # index; an OR of the two makes its planner read both indexes whole or scan the table.
        # UNION, not UNION ALL: a mention found by its handle and its id comes back once
        # ((platform, external_id) is unique, so only such doubles are merged).
        sides = [
            select(*columns).where(MentionRow.created_at >= since, _any(key, values))
            for key, values in (
                (MentionRow.author_handle, handles),
                (MentionRow.author_id, author_ids),
            )
            if values
        ]
        if not sides:
            return []
        query = sides[0] if len(sides) == 1 else union(*sides)
        with Session(self.engine) as session:
            return list(session.execute(query))


def _any(column: Any, values: list[str]) -> ColumnElement[bool]:
    """`column = ANY(array)`, one parameter: IN renders a placeholder a value, and psycopg
    parses a statement of more than 50 of them in Python on every call (a page's hundred
    authors cost more than the query)."""
    from sqlalchemy.dialects.postgresql import ARRAY  # imported on PostgreSQL nodes only

    return column == any_(bindparam(column.key, values, type_=ARRAY(column.type)))


def _unique(mentions: Iterable[Mention]) -> list[Mention]:
    """Each mention once, oldest first, so ids and alerts follow the order people wrote in."""
    seen: set[tuple[str, str]] = set()
    out = []
    for mention in sorted(mentions, key=_age_order):
        key = (mention.platform, mention.external_id)
        if key not in seen:
            seen.add(key)
            out.append(mention)
    return out


def _age_order(mention: Mention) -> tuple[datetime, int, str]:
    # Same-second mentions: numeric ids (tweets) order by length first, then by digits.
    return (mention.created_at, len(mention.external_id), mention.external_id)


def _mention_row(mention: Mention, decision: Decision | None, now: datetime) -> dict[str, Any]:
    """The row's values, made storable (the raw payload needs no pass of its own: its JSON
    text escapes both)."""
    values = _mention_values(mention, decision, now)
    return {k: v if k == "raw" else _storable(v) for k, v in values.items()}


def _mention_values(mention: Mention, decision: Decision | None, now: datetime) -> dict[str, Any]:
    return {
        "platform": mention.platform,
        "external_id": mention.external_id,
        "source": mention.source,
        "url": mention.url,
        "author_id": mention.author_id,
        "author_handle": mention.author_handle,
        "author_followers": mention.author_followers,
        "author_verified": mention.author_verified,
        "author_is_bot": mention.author_is_bot,
        "text": mention.text,
        "lang": mention.lang,
        "conversation_id": mention.conversation_id,
        "in_reply_to_id": mention.in_reply_to_id,
        "created_at": mention.created_at,
        "fetched_at": now,
        "raw": mention.raw,
        "status": ("ours" if decision.ours else "triaged") if decision else "backfilled",
        "sentiment": decision.sentiment if decision else None,
        "urgency": decision.urgency if decision else None,
        "reasons": list(decision.reasons) if decision else [],
        "rules": list(decision.rules) if decision else [],
    }


def _storable(value: Any) -> Any:
    """`value` with every string made storable on every backend.

    PostgreSQL refuses NUL characters and unpaired UTF-16 surrogates (which a JSON payload's
    "\\ud800" escapes produce); one such mention must not fail the whole batch and stall its
    source forever, so they become U+FFFD.
    """
    if isinstance(value, str):
        if "\x00" in value:
            value = value.replace("\x00", "\ufffd")
        if value.isascii():  # most text: no surrogate possible, no copy made to find out
            return value
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            value = value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        return value
    if isinstance(value, dict):
        return {_storable(k): _storable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_storable(v) for v in value]
    return value
