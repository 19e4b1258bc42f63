"""The store's hot-path queries read index entries a probe, not the table's recent rows: what
PostgreSQL's planner does with them, read back from EXPLAIN ANALYZE, and SQLite's query plan."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from core.mention import Mention
from core.store import Decision, Store

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
STORED = 5000
ANALYZED_AT = 500
PAGE = 100


@pytest.fixture
def store(scratch_postgres_url: str) -> Iterator[Store]:
    store = Store.open(scratch_postgres_url)
    yield store
    store.close()


def by_author(n: int) -> Mention:
    created = NOW - timedelta(seconds=(STORED - n) / 2)  # all within the hour before NOW
    return Mention("x", str(n), "hi", created, author_handle=f"h{n}", author_id=f"a{n}")


def nothing(_: Mention) -> Decision:
    return Decision(sentiment=0.0, urgency=0, reasons=())


def rows_read(plan: dict[str, Any], relation: str) -> int:
    """Rows the plan's scans of `relation` fetched, kept or filtered out, over all their loops."""
    read = 0
    if plan.get("Relation Name") == relation:
        kept_and_dropped = (
            plan["Actual Rows"]
            + plan.get("Rows Removed by Filter", 0)
            + plan.get("Rows Removed by Index Recheck", 0)
        )
        read += kept_and_dropped * plan["Actual Loops"]
    return read + sum(rows_read(child, relation) for child in plan.get("Plans", ()))


def counted_with_statement(
    store: Store, probes: list[Mention]
) -> tuple[tuple[list[int], set[tuple[str, str]]], str, Any]:
    """`earlier_by_same_author` of `probes` over the past hour, and the statement it sent."""
    sent: list[tuple[str, Any]] = []

    def keep(_conn, _cursor, sql: str, params: Any, _context, _many: bool) -> None:  # type: ignore[no-untyped-def]
        sent.append((sql, params))

    event.listen(store.engine, "before_cursor_execute", keep)
    try:
        result = store.earlier_by_same_author(probes, timedelta(hours=1))
    finally:
        event.remove(store.engine, "before_cursor_execute", keep)
    sql, params = next(each for each in sent if each[0].lstrip().startswith("WITH probe"))
    return result, sql, params


def test_the_repeat_count_of_a_page_reads_index_entries_not_the_window(store: Store) -> None:
    # A busy hour: 5,000 mentions by as many authors, then the newest page polled again (the
    # lookup's third branch finds each stored one by its platform and id).
    every = [by_author(n) for n in range(STORED)]
    for start in range(0, STORED, PAGE):
        store.ingest("x:mentions", every[start : start + PAGE], None, nothing, NOW)
        if start + PAGE == ANALYZED_AT:  # statistics behind the table, as autovacuum leaves them
            with store.engine.begin() as connection:
                connection.exec_driver_sql("ANALYZE mention")
    (counts, known), sql, params = counted_with_statement(store, every[-PAGE:])
    assert counts == [0] * PAGE and len(known) == PAGE  # each author wrote once: itself

    with store.engine.connect() as connection:
        explained = connection.exec_driver_sql("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params)
        plan = explained.scalar_one()[0]["Plan"]

    # Each probe's own row, and at most a few index entries more: not the hour's 5,000.
    assert rows_read(plan, "mention") <= 3 * PAGE


def test_on_sqlite_the_repeat_count_reads_each_author_side_from_its_own_index_alone(
    tmp_path: Path,
) -> None:
    # Covering: the author's earlier mentions are counted without fetching their rows (text and
    # raw payload). The handle side keeps its own range, not `author_id = ''`: every id-less
    # mention of the window.
    store = Store.open(f"sqlite:///{tmp_path / 'plans.db'}")
    _, sql, params = counted_with_statement(store, [by_author(1)])
    with store.engine.connect() as connection:
        plan = [row[-1] for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params)]
    store.close()

    searches = [step for step in plan if step.startswith("SEARCH r ")]
    assert searches[:2] == [
        "SEARCH r USING COVERING INDEX ix_mention_author_id_recent"
        " (author_id=? AND created_at>? AND created_at<?)",
        "SEARCH r USING COVERING INDEX ix_mention_author_handle_recent"
        " (author_handle=? AND created_at>? AND created_at<?)",
    ]
