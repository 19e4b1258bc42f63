"""The store's guarantees, on SQLite and on PostgreSQL."""

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Text, cast, event, select
from sqlmodel import Session

from core.mention import Mention
from core.models import AlertRow, MentionRow, OutboxRow
from core.reasons import Reason, ReasonKind
from core.store import Decision, OutboxItem, PlannedAction, Store

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    store = Store.open(database_url)
    yield store
    store.close()


def mention(external_id: str, minutes_ago: int = 1, text: str = "broken") -> Mention:
    return Mention(
        platform="x",
        external_id=external_id,
        text=text,
        created_at=NOW - timedelta(minutes=minutes_ago),
        author_handle="someone",
    )


def alert_everything(_: Mention) -> Decision:
    return Decision(
        sentiment=-0.5,
        urgency=60,
        reasons=("broken +20",),
        rules=("r1",),
        actions=(PlannedAction("alert", "r1", "staff"),),
    )


def test_batch_cursor_and_actions_are_saved_together_and_only_once(store: Store) -> None:
    first = store.ingest("x:mentions", [mention("2"), mention("1", 2)], "c1", alert_everything, NOW)
    again = store.ingest("x:mentions", [mention("2"), mention("3")], "c2", alert_everything, NOW)

    assert [i.mention.external_id for i in first] == ["1", "2"]  # oldest first
    assert [i.mention.external_id for i in again] == ["3"]
    assert store.cursor("x:mentions") == "c2"
    assert store.count_mentions() == 3
    assert len(store.outbox("pending")) == 3


def test_a_failed_transaction_moves_no_cursor_and_saves_nothing(store: Store) -> None:
    def explode(_: Mention) -> Decision:
        raise RuntimeError("rules crashed")

    with pytest.raises(RuntimeError):
        store.ingest("x:mentions", [mention("1")], "c1", explode, NOW)
    assert store.cursor("x:mentions") is None
    assert store.count_mentions() == 0


def test_a_batch_of_many_statements_keeps_age_order_and_one_transaction(store: Store) -> None:
    # A catching-up poll, newest first as listings are, longer than one INSERT's page of rows.
    burst = [mention(str(n), minutes_ago=n) for n in range(1, 251)]
    items = store.ingest("x:mentions", burst, "c1", alert_everything, NOW)

    oldest_first = [str(n) for n in range(250, 0, -1)]
    assert [i.mention.external_id for i in items] == oldest_first
    assert [row.external_id for row in store.mentions()] == oldest_first  # ids in age order
    assert [row.mention_id for row in store.outbox("pending")] == [i.mention_id for i in items]
    assert store.cursor("x:mentions") == "c1"


def test_a_failure_in_a_later_statement_saves_nothing_of_the_batch(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue = store._outbox_insert.run
    calls = []

    def fail_third(session: Session, rows: list[dict[str, object]]) -> list[tuple[object, ...]]:
        calls.append(len(rows))
        if len(calls) == 3:
            raise RuntimeError("database gone")
        return queue(session, rows)

    monkeypatch.setattr(store._outbox_insert, "run", fail_third)
    burst = [mention(str(n), minutes_ago=n) for n in range(1, 251)]
    with pytest.raises(RuntimeError):
        store.ingest("x:mentions", burst, "c1", alert_everything, NOW)
    assert calls == [100, 100, 50]
    assert store.cursor("x:mentions") is None
    assert store.count_mentions() == 0
    assert store.outbox() == []


def test_backfilled_mentions_are_stored_but_not_triaged(store: Store) -> None:
    items = store.ingest(
        "x:mentions",
        [mention("old", minutes_ago=120), mention("new", minutes_ago=5)],
        "c1",
        alert_everything,
        NOW,
        triage_after=NOW - timedelta(hours=1),
    )
    assert {i.mention.external_id: i.decision is not None for i in items} == {
        "old": False,
        "new": True,
    }
    assert [row.status for row in store.mentions()] == ["backfilled", "triaged"]
    assert len(store.outbox()) == 1


def test_outbox_claims_in_order_and_records_alerts(store: Store) -> None:
    store.ingest("x:mentions", [mention("1", 3), mention("2", 2)], None, alert_everything, NOW)
    first, second = store.claim_due(NOW)
    assert (first.mention.external_id, second.mention.external_id) == ("1", "2")
    assert store.claim_due(NOW) == []  # in flight: nobody else takes them

    alert = _sent_alert(store, first, 77)
    store.mark_failed(second.id, "Telegram down", NOW + timedelta(seconds=30))

    assert [row.state for row in store.outbox()] == ["sent", "pending"]
    assert store.claim_due(NOW) == []
    assert [i.id for i in store.claim_due(NOW + timedelta(seconds=31))] == [second.id]
    context = store.alert_context(alert.id or 0)
    assert context is not None and context.mention is not None
    assert (context.alert.outbox_id, context.alert.message_id) == (first.id, 77)
    assert context.mention.external_id == "1"


def test_actions_claimed_without_raw_leave_the_payload_out_and_stored(store: Store) -> None:
    payload = {"kind": "t3", "data": {"name": "t3_1", "selftext": "broken"}}
    with_raw = replace(mention("1"), raw=payload)
    store.ingest("x:mentions", [with_raw], None, alert_everything, NOW)
    [lean] = store.claim_due(NOW, raw=False)
    assert lean.mention == with_raw and lean.mention.raw == {}

    store.release([lean.id], NOW)
    [full] = store.claim_due(NOW)
    assert full.id == lean.id and full.mention.raw == payload


def test_actions_in_flight_at_a_crash_are_retried_and_flagged(store: Store) -> None:
    store.ingest("x:mentions", [mention("1")], None, alert_everything, NOW)
    [item] = store.claim_due(NOW)
    assert store.recover_in_flight(NOW) == 1
    [again] = store.claim_due(NOW)
    assert again.id == item.id
    assert again.payload["maybe_repeat"] is True


def test_agent_actions_move_the_alert_state(store: Store) -> None:
    store.ingest("x:mentions", [mention("1")], None, alert_everything, NOW)
    [item] = store.claim_due(NOW)
    alert = _sent_alert(store, item, 5)
    acked = store.record_agent_action(alert.id or 0, "claim", "7", "@ana", NOW)
    resolved = store.record_agent_action(alert.id or 0, "resolve", "8", "@ben", NOW)
    again = store.record_agent_action(alert.id or 0, "claim", "9", "@cem", NOW)

    assert acked.state == "acknowledged"
    assert (resolved.state, resolved.acknowledged_by, resolved.resolved_by) == (
        "resolved",
        "@ana",
        "@ben",
    )
    assert again.state == "resolved"
    assert len(store.agent_actions(alert.id or 0)) == 3


def test_the_sla_watcher_sees_unanswered_alerts_with_a_deadline_soonest_first(
    store: Store,
) -> None:
    store.ingest(
        "x:mentions", [mention(str(n), 5 - n) for n in range(4)], None, alert_everything, NOW
    )
    late, soon, resolved, no_deadline = (
        _sent_alert(store, item, 10 + n) for n, item in enumerate(store.claim_due(NOW))
    )
    store.update_alert(late.id or 0, due_at=NOW + timedelta(minutes=30))
    store.update_alert(soon.id or 0, due_at=NOW + timedelta(minutes=5))
    store.update_alert(resolved.id or 0, due_at=NOW)
    store.record_agent_action(resolved.id or 0, "resolve", "7", "@ana", NOW)

    watched = store.watched_alerts(NOW)

    assert [item.alert.id for item in watched] == [soon.id, late.id]
    assert [item.mention.external_id for item in watched if item.mention] == ["1", "0"]
    assert no_deadline.id not in {item.alert.id for item in watched}


def test_a_reply_queued_by_another_rule_is_seen_but_not_ones_own(store: Store) -> None:
    [item] = store.ingest("x:mentions", [mention("1")], None, alert_everything, NOW)
    mention_id = item.mention_id
    store.queue_action(mention_id, PlannedAction("reply", "sla-holding", payload={}), NOW)
    assert not store.reply_queued(mention_id, besides_rule="sla-holding")

    store.queue_action(mention_id, PlannedAction("reply", "sorry", payload={}), NOW)
    assert store.reply_queued(mention_id, besides_rule="sla-holding")


def test_a_batch_bigger_than_one_statement_takes_is_stored_whole_and_once(store: Store) -> None:
    # 2,000 mentions of 22 columns: more parameters than SQLite's default build takes in one
    # statement (32,766; Debian's takes more, so the count is checked, not the failure).
    batch = [mention(str(n), minutes_ago=n % 50) for n in range(2000)]
    parameters: list[int] = []

    @event.listens_for(store.engine, "before_cursor_execute")
    def _count(_c, _cursor, sql: str, params, _context, _many) -> None:  # type: ignore[no-untyped-def]
        if sql.startswith("INSERT INTO mention"):
            parameters.append(len(params))

    ingested = store.ingest("x:mentions", batch, None, alert_everything, NOW)
    again = store.ingest("x:mentions", [*batch[:1500], mention("new")], None, alert_everything, NOW)

    assert len({item.mention_id for item in ingested}) == 2000
    assert {item.mention.external_id for item in ingested} == {str(n) for n in range(2000)}
    assert [item.mention.external_id for item in again] == ["new"]
    assert store.count_mentions() == 2001 and len(store.outbox()) == 2001
    assert parameters and max(parameters) <= 32_766


def test_ingested_rows_are_stored_as_the_orm_stores_them(store: Store) -> None:
    """The bulk path writes the same text, column by column, as adding the rows one by one."""
    hostile = "ça \u00fc 🙂 nul\x00 half \ud83d"
    raw = {"tweet": {"text": hostile, "n": 1.5, "at": NOW}, "bytes": b"\x01"}
    reasons = (Reason("refund", 25, ReasonKind.KEYWORD), "followers 48k +15", "ours")
    action = PlannedAction("alert", "r1", "staff", payload={"tags": [hostile], "owner": "@ana"})

    def decide(_: Mention) -> Decision:
        return Decision(-0.25, 70, reasons, ("r1",), (action,))

    def sample(external_id: str) -> Mention:
        return Mention("x", external_id, hostile, NOW, "x:mentions", "u", "1", hostile, 5, raw=raw)

    [bulk] = store.ingest("x:mentions", [sample("bulk")], None, decide, NOW)
    with Session(store.engine) as session, session.begin():
        orm = MentionRow(
            **{
                **store.mention(bulk.mention_id).model_dump(exclude={"id", "external_id"}),  # type: ignore[union-attr]
                "external_id": "orm",
                "text": hostile.replace("\x00", "\ufffd").replace("\ud83d", "\ufffd"),
                "author_handle": hostile.replace("\x00", "\ufffd").replace("\ud83d", "\ufffd"),
                "raw": raw,
                "reasons": list(reasons),
            }
        )
        session.add(orm)
        session.flush()
        session.add(OutboxRow(**{**store.outbox()[0].model_dump(exclude={"id"}), "key": "orm"}))

    def stored(table: type[MentionRow] | type[OutboxRow]) -> list[tuple[str | None, ...]]:
        skip = {"id", "external_id", "key", "mention_id"}
        columns = [cast(c, Text) for c in table.__table__.columns if c.key not in skip]
        with Session(store.engine) as session:
            return [tuple(row) for row in session.execute(select(*columns).order_by("id"))]

    bulk_row, orm_row = stored(MentionRow)
    assert bulk_row == orm_row
    bulk_action, orm_action = stored(OutboxRow)
    assert bulk_action == orm_action


def _sent_alert(store: Store, item: OutboxItem, message_id: int) -> AlertRow:
    """An alert as the alert responder writes it: opened, then its message sent."""
    values = {"outbox_id": item.id, "mention_id": item.mention_id, "chat_id": "-100"}
    alert = store.open_alert_message({**values, "message_id": 0, "created_at": NOW})
    store.alert_message_sent(alert.id or 0, message_id, NOW)
    return alert


def test_earlier_by_same_author_counts_each_stored_mention_once_by_its_id_or_handle(
    store: Store,
) -> None:
    def by(external_id: str, handle: str, author_id: str, minutes_ago: int) -> Mention:
        return Mention(
            "x",
            external_id,
            "hi",
            NOW - timedelta(minutes=minutes_ago),
            author_handle=handle,
            author_id=author_id,
        )

    stored = [
        by("both", "ann", "1", 5),
        by("renamed", "annie", "1", 4),  # the same author id under another handle
        by("handle", "ann", "2", 3),  # ann's handle, another author: counts for author 2
        by("no-id", "cy", "", 2),  # no author id: its handle is its author
        by("old", "ann", "1", 90),  # outside the hour
        by("later", "ann", "1", 0),  # after the probes
    ]
    store.ingest("x:mentions", stored, None, alert_everything, NOW)
    probes = [by("new", "ann", "1", 1), by("both", "ann", "1", 5), by("cy-new", "cy", "", 1)]

    counts, known = store.earlier_by_same_author(probes, timedelta(hours=1))

    # "new": both and renamed (author 1, within the hour before it); "both": nothing before it.
    assert counts == [2, 0, 1]
    assert known == {("x", "both")}
    assert store.earlier_by_same_author([], timedelta(hours=1)) == ([], set())


def test_a_hostile_author_is_counted_as_stored_not_refused(store: Store) -> None:
    """A NUL or a lone surrogate in an author's handle or id: the batch is stored and the same
    author's next mention counts the earlier one (PostgreSQL refused the lookup's JSON)."""
    handle, author_id = "nul\x00 half \ud83d", "id\x00\udc4e"

    def by(external_id: str, minutes_ago: int, author: str = author_id) -> Mention:
        text, at = "refund please", NOW - timedelta(minutes=minutes_ago)
        return Mention("x", external_id, text, at, author_handle=handle, author_id=author)

    first = store.ingest("x:mentions", [by("first", 5)], None, alert_everything, NOW)
    second = store.ingest(
        "x:mentions", [by("second", 1), by("no-id", 1, "")], None, alert_everything, NOW
    )

    assert {i.mention.external_id for i in [*first, *second]} == {"first", "second", "no-id"}
    assert store.earlier_by_same_author([by("third", 0)], timedelta(hours=1)) == ([2], set())
    assert store.earlier_by_same_author([by("third", 0, "")], timedelta(hours=1)) == ([1], set())


def test_earlier_by_same_author_matches_counting_every_stored_mention(store: Store) -> None:
    # What the counts mean, counted the slow way: of the stored mentions the probes' handles or
    # author ids reach, those of the same platform and author (its id, or its handle when it has
    # none) within the window before each probe, the probe itself apart.
    # (handle, author id): the last four reach nobody by the other key: author id "h" is no
    # probe's id and its handle "zzz" no probe's handle; handle "k" is no probe's handle.
    stored_people = [("ann", "1"), ("ann", "2"), ("bob", ""), ("1", ""), ("zzz", "h"), ("k", "")]
    probe_people = [("ann", "1"), ("bob", ""), ("", "2"), ("1", ""), ("h", ""), ("", "k")]

    def by(n: int, minutes_ago: int, who: tuple[str, str], platform: str = "x") -> Mention:
        handle, author_id = who
        created = NOW - timedelta(minutes=minutes_ago, microseconds=250)  # at the edges too
        return Mention(platform, str(n), "hi", created, author_handle=handle, author_id=author_id)

    stored = [
        by(n, 7 * n, stored_people[n % 6], "reddit" if n % 5 == 0 else "x") for n in range(60)
    ]
    store.ingest("x:mentions", stored, None, alert_everything, NOW)
    probes = [by(100 + n, 11 * n - 30, probe_people[n % 6]) for n in range(24)]
    probes += [stored[7], stored[9], stored[20]]  # polled again
    window = timedelta(hours=2)

    def author(m: Mention) -> tuple[str, str]:
        return (m.platform, m.author_id or m.author_handle)

    handles = {m.author_handle for m in probes if m.author_handle}
    ids = {m.author_id for m in probes if m.author_id}
    oldest = min(m.created_at for m in probes) - window
    reached = [
        s
        for s in stored
        if s.created_at >= oldest and (s.author_handle in handles or s.author_id in ids)
    ]
    expected = [
        sum(
            1
            for s in reached
            if author(s) == author(m)
            and m.created_at - window <= s.created_at < m.created_at
            and s.external_id != m.external_id
        )
        for m in probes
    ]
    known = {(s.platform, s.external_id) for s in reached} & {
        (m.platform, m.external_id) for m in probes
    }

    assert store.earlier_by_same_author(probes, window) == (expected, known)
    assert sum(expected) > 20 and known  # not trivially all zeros


def test_the_postgresql_bulk_insert_refuses_a_column_json_cannot_carry() -> None:
    # The page travels as JSON text: a bytes column would quietly be stored as its str().
    from sqlalchemy import Column, Integer, LargeBinary, MetaData, Table, create_engine

    from core.store._db import BulkInsert

    table = Table(
        "blob", MetaData(), Column("id", Integer, primary_key=True), Column("b", LargeBinary)
    )
    engine = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")  # never connects
    with pytest.raises(TypeError, match=r"blob\.b:"):
        BulkInsert(engine, table, conflict=["id"])
    BulkInsert(create_engine("sqlite://"), table, conflict=["id"])  # SQLite binds it itself
