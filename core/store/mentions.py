"""Cursors and mentions: a polled batch, its triage, its actions and its cursor in one go."""

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta, timezone
from functools import cached_property, lru_cache
from itertools import chain
from typing import Any

from sqlalchemy import Connection, func, select
from sqlmodel import Session

from core.mention import Mention
from core.models import CursorRow, MentionRow, OutboxRow
from core.reasons import Reason
from core.store._db import BulkInsert, StoreBase, binder, to_json
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
        # A Core transaction: nothing here is an ORM object, and a Session's own bookkeeping
        # cost about twice a Core transaction's (timeit, a page's transaction of one statement).
        with self.engine.begin() as connection:
            # A statement a page: a burst's rows, their JSON and the driver's parameters all
            # at once cost a catching-up poll of 1,000 posts 10-14 MB of peak RSS (issue 19).
            for start in range(0, len(unique), ROWS_A_STATEMENT):
                rows = _storable_rows(
                    [
                        _mention_values(m, decisions[(m.platform, m.external_id)], now)
                        for m in unique[start : start + ROWS_A_STATEMENT]
                    ]
                )
                page = []
                for mention_id, platform, external_id in self._mention_insert.run(connection, rows):
                    key = (platform, external_id)
                    page.append(Ingested(mention_id, by_key[key], decisions[key]))
                outbox = [
                    outbox_values(item.mention_id, action, now)
                    for item in page
                    if item.decision
                    for action in item.decision.actions
                ]
                self._outbox_insert.run(connection, outbox)
                ingested += page
            if next_cursor is not None:
                self._save_cursor(connection, source, next_cursor, now)
        ingested.sort(key=lambda item: item.mention_id)
        return ingested

    @cached_property
    def _mention_insert(self) -> BulkInsert:
        # Core inserts on the table: the ORM's per-row bookkeeping is a third of the
        # pipeline's time at 100 mentions a page, and buys nothing here.
        table = MentionRow.__table__
        insert = BulkInsert(
            self.engine,
            table,
            conflict=["platform", "external_id"],
            returning=[table.c.id, table.c.platform, table.c.external_id],
        )
        # The binders are SQLite's (a PostgreSQL page is one JSON text): see `_by_reason`.
        insert.binders["reasons"] = _by_reason(insert.binders["reasons"])
        return insert

    @cached_property
    def _outbox_insert(self) -> BulkInsert:
        return BulkInsert(self.engine, OutboxRow.__table__, conflict=["key"])

    def _save_cursor(self, connection: Connection, source: str, value: str, now: datetime) -> None:
        # Fixed text, not a statement built a page: building and compiling it cost more than
        # running it.
        connection.exec_driver_sql(
            _SAVE_CURSOR[self.engine.dialect.name], (source, value, self._stamp(now))
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

    def earlier_by_same_author(
        self, mentions: Sequence[Mention], window: timedelta
    ) -> tuple[list[int], set[tuple[str, str]]]:
        """What the repeat-complainer urgency needs of the stored mentions, counted in SQL.

        `mentions` (each with an author) look at the stored mentions written by any of their
        handles or author ids. Gives, for each of `mentions` in order, how many of those the
        same author (the same platform and author id, or handle where the stored one has no id)
        wrote within `window` before it, itself apart; and the (platform, external_id) of
        `mentions` that are among them already. Only counts come back, a row per mention: the
        rows themselves grew with the table (1,900 a page at 100,000 stored mentions).
        """
        if not mentions:
            return [], set()
        # Looked up as they were stored: a NUL or an unpaired surrogate in a handle or id was
        # made storable (U+FFFD), and PostgreSQL refuses the query's JSON with them, which
        # failed the whole batch and stalled its source.
        keys = [(_storable(m.author_id), _storable(m.author_handle)) for m in mentions]
        handles = {handle for _, handle in keys if handle}
        ids = {author_id for author_id, _ in keys if author_id}
        probes = []
        for n, (m, (author_id, handle)) in enumerate(zip(mentions, keys, strict=True)):
            author = author_id or handle
            probes.append(
                {
                    "i": n,
                    "platform": m.platform,
                    "author": author,
                    "external_id": _storable(m.external_id),
                    "lo": self._stamp(m.created_at - window),
                    "hi": self._stamp(m.created_at),
                    "by_id": author in ids,
                    "by_handle": author in handles,
                }
            )
        oldest = self._stamp(min(m.created_at for m in mentions) - window)
        params = (to_json(probes), to_json(sorted(handles)), to_json(sorted(ids)), oldest)
        counts, stored = [0] * len(mentions), set()
        with self.engine.connect() as connection:
            sql = _EARLIER_BY_AUTHOR[self.engine.dialect.name]
            for n, platform, earlier, known in connection.exec_driver_sql(sql, params):
                if platform != mentions[n].platform:
                    continue  # the same author key on another platform: another person
                counts[n] = earlier
                if known:
                    stored.add((platform, mentions[n].external_id))
        return counts, stored

    @cached_property
    def _stamp(self) -> Callable[[datetime], Any]:
        """An aware datetime (created_at, a cursor's updated_at) as the driver binds it
        (SQLite compares the stored text)."""
        process = binder(MentionRow.__table__.c.created_at, self.engine.dialect)
        if process is None:
            return lambda value: value
        if self.engine.dialect.name != "sqlite" or _sqlite_text(_SAMPLE) != process(_SAMPLE):
            return process

        # The dialect's text of a UTC datetime (checked on a sample above) without its
        # generic conversion: the repeat count binds two a mention.
        def stamp(value: datetime) -> Any:
            if type(value) is not datetime or value.tzinfo is None:
                return process(value)  # the column type's own checks and errors
            return _sqlite_text(value)

        return stamp


# The stored mentions of `earlier_by_same_author`: one index range a probe and a side, counted.
# A stored mention's author is its id, or its handle when it has none: the first branch finds it
# by (author_id, created_at), the second by (author_handle, created_at), the third says which
# probes are stored already (by the unique (platform, external_id)). A mention found by its
# author id counts when that id is one of the batch's (`by_id`) or its handle is; one without an
# id only when its handle is (`by_handle`): exactly the mentions the batch's handles or ids reach.
# Counted per platform, the probe's own picked in Python: a platform condition in the join let
# PostgreSQL, on statistics older than a fast-growing table, AND in the (platform, external_id)
# index for `platform = 'x'`, reading every mention of the platform for each probe.
_EARLIER_BY_AUTHOR_SQL = """
WITH probe AS ({probes}), handle AS ({values}), author AS ({values})
SELECT i, platform, sum(earlier), max(known) FROM (
    SELECT probe.i AS i, r.platform AS platform, 1 AS earlier, 0 AS known FROM probe {by_id}
    WHERE r.external_id <> probe.external_id
        AND (probe.by_id OR r.author_handle IN (SELECT value FROM handle))
    UNION ALL
    SELECT probe.i, r.platform, 1, 0 FROM probe {by_handle}
    WHERE probe.by_handle AND r.author_id = '' AND r.external_id <> probe.external_id
    UNION ALL
    SELECT probe.i, r.platform, 0, 1 FROM probe {known}
    WHERE r.created_at >= {p} AND (
        r.author_handle IN (SELECT value FROM handle) OR r.author_id IN (SELECT value FROM author)
    )
) AS found GROUP BY i, platform
"""
# Each branch's stored mentions of a probe: an index range (or the unique entry) of its own.
_LOOKUPS = {
    "by_id": "r.author_id = probe.author AND r.created_at >= probe.lo AND r.created_at < probe.hi",
    "by_handle": "r.author_handle = probe.author"
    " AND r.created_at >= probe.lo AND r.created_at < probe.hi",
    "known": "r.platform = probe.platform AND r.external_id = probe.external_id",
}


def _joined(condition: str) -> str:
    return f"JOIN mention AS r ON {condition}"


def _looked_up(condition: str) -> str:
    """PostgreSQL's lookup a probe, which OFFSET 0 keeps its planner from flattening into a join.

    As joins, a planner with statistics behind a fast-growing table read every mention since the
    batch's oldest window by `created_at` (all 5,000 stored ones for each page of 100: 2.9 of
    the query's 3.7 ms, EXPLAIN ANALYZE), or the whole table by a sequential scan: work that
    grows with the table. A page's probes are at most a few hundred, each an index range.
    """
    columns = "r.platform, r.external_id, r.created_at, r.author_handle, r.author_id"
    lookup = f"SELECT {columns} FROM mention AS r WHERE {condition} OFFSET 0"
    return f"CROSS JOIN LATERAL ({lookup}) AS r"


_PROBE_COLUMNS = ("i", "platform", "author", "external_id", "lo", "hi", "by_id", "by_handle")
_EARLIER_BY_AUTHOR = {
    "postgresql": _EARLIER_BY_AUTHOR_SQL.format(
        probes="SELECT * FROM json_to_recordset(%s::json) AS p(i int, platform text, author text,"
        " external_id text, lo timestamptz, hi timestamptz, by_id boolean, by_handle boolean)",
        values="SELECT json_array_elements_text(%s::json) AS value",
        p="%s",
        **{branch: _looked_up(condition) for branch, condition in _LOOKUPS.items()},
    ),
    # SQLite has no LATERAL, and its planner takes each join's index.
    "sqlite": _EARLIER_BY_AUTHOR_SQL.format(
        probes="SELECT "
        + ", ".join(f"value ->> '{c}' AS {c}" for c in _PROBE_COLUMNS)
        + " FROM json_each(?)",
        values="SELECT value FROM json_each(?)",
        p="?",
        **{branch: _joined(condition) for branch, condition in _LOOKUPS.items()},
    ),
}


def _by_reason(bind: Callable[[Any], Any] | None) -> Callable[[Any], Any] | None:
    """`bind` of the reasons column, each reason bound once and remembered: mentions share
    most of their reasons ("delay +22", "VADER -0.44 +19"), and encoding each one's JSON
    object again was ~5 % of the store's instructions (callgrind, 100-mention pages).

    A list's JSON is its items' JSON between brackets, joined by ", ": each reason is bound
    as a list of one, its brackets cut. A reason is remembered with the types of its fields,
    so equal ones that would be written differently (points 1 and True) never share a text.
    """
    if bind is None:
        return None

    @lru_cache(maxsize=4096)
    def one(key: tuple[Any, ...]) -> str:
        return bind([key[0]])[1:-1]

    def process(value: Any) -> Any:
        if value is None or not all(type(reason) is Reason for reason in value):
            return bind(value)
        try:
            parts = [
                one((r, type(r.label), type(r.points), type(r.kind), type(r.topic))) for r in value
            ]
        except TypeError:  # a field that cannot be a key (a list for a label): as it was
            return bind(value)
        return "[" + ", ".join(parts) + "]"

    return process


def _sqlite_text(value: datetime) -> str:
    """An aware datetime as SQLAlchemy's SQLite dialect stores it: UTC, to the microsecond."""
    return value.astimezone(UTC).isoformat(" ", "microseconds")[:26]


# A sample for the check that `_sqlite_text` is what the dialect binds: not UTC, a year < 1000.
_SAMPLE = datetime(987, 6, 5, 4, 3, 2, 1, tzinfo=timezone(timedelta(hours=-3)))


# A source's cursor, inserted or moved on; its updated_at the excluded row's, the same `now`.
_SAVE_CURSOR_SQL = (
    "INSERT INTO cursor (source, value, updated_at) VALUES ({p}, {p}, {p})"
    " ON CONFLICT (source) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at"
)
_SAVE_CURSOR = {
    "postgresql": _SAVE_CURSOR_SQL.format(p="%s"),
    "sqlite": _SAVE_CURSOR_SQL.format(p="?"),
}


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


def _storable_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`rows` with every string in them made storable (`_storable`), in place.

    Looked at a column of the page at a time: most columns are ASCII text or no text at all,
    which one join finds out for the whole page, where a look at each value cost three times
    building the row (timeit). The raw payload needs no pass of its own: its JSON text
    escapes both.
    """
    for key in rows[0] if rows else ():
        if key == "raw" or _all_storable([row[key] for row in rows]):
            continue
        for row in rows:
            row[key] = _storable(row[key])
    return rows


def _all_storable(values: list[Any]) -> bool:
    """Does `_storable` leave each of `values` as it is (or an equal copy)?

    True for values holding no text (numbers, None, booleans, reasons), for text without a
    NUL or a character beyond ASCII, and for lists and tuples of such; dicts, and a mix of
    text with others, are left for `_storable` to look at one by one.
    """
    kinds = set(map(type, values))
    if not any(issubclass(kind, (str, dict, list, tuple)) for kind in kinds):
        return True
    if all(issubclass(kind, str) for kind in kinds):
        text = "".join(values)
        return "\x00" not in text and text.isascii()
    if all(issubclass(kind, (list, tuple)) for kind in kinds):
        return _all_storable(list(chain.from_iterable(values)))
    return False


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
