"""Migration 0006: reasons stored as text before it become structured, both ways, and read back
as the same text staff saw before."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, text

from core import migrations
from core.reasons import Reason, ReasonKind
from core.store import Store, connect

OLD_ROWS = {
    "1": ["VADER -0.71 +30", "refund +25", "followers 48k +11", "repeat: 2 earlier in 1d +20"],
    "2": ["written by one of the brand's own accounts"],
    "3": ['"website" +9', "model 78% +13", "question to the brand +25"],
    "4": [],
}


@pytest.fixture(params=["sqlite", "postgresql"])
def old_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A database at revision 0005 holding mentions whose reasons are display text."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.db'}"
    else:
        url = request.getfixturevalue("scratch_postgres_url")
    engine = connect(url)
    migrations.upgrade(engine, "0005")
    with engine.begin() as connection:
        for external_id, reasons in OLD_ROWS.items():
            connection.execute(
                text(
                    "INSERT INTO mention (platform, external_id, source, url, author_id,"
                    " author_handle, author_followers, author_verified, author_is_bot, text,"
                    " lang, conversation_id, in_reply_to_id, created_at, fetched_at, raw, status,"
                    " reasons, rules, feedback, feedback_by)"
                    " VALUES ('x', :id, 'x:mentions', '', '', 'alice', 0, false, false, 'hi',"
                    " 'en', '', '', '2026-03-02 10:00:00+00:00', '2026-03-02 10:00:00+00:00',"
                    " '{}', 'triaged', :reasons, '[]', '', '')"
                ),
                {"id": external_id, "reasons": json.dumps(reasons)},
            )
    yield engine
    engine.dispose()


def stored(engine: Engine) -> dict[str, object]:
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT external_id, reasons FROM mention")).all()
    return {external_id: _loaded(reasons) for external_id, reasons in rows}


def _loaded(value: object) -> object:
    return json.loads(value) if isinstance(value, str) else value


def test_old_text_reasons_become_objects_that_read_as_before(old_database: Engine) -> None:
    migrations.upgrade(old_database)

    rows = stored(old_database)
    assert rows["1"][1] == {"label": "refund", "points": 25, "kind": "unknown", "topic": ""}
    assert rows["1"][2] == {
        "label": "followers 48k",
        "points": 11,
        "kind": "reach",
        "topic": "followers",
    }
    store = Store(old_database)
    by_id = {mention.external_id: mention.reasons for mention in store.mentions()}
    assert {key: [str(r) for r in reasons] for key, reasons in by_id.items()} == OLD_ROWS
    assert all(isinstance(reason, Reason) for reasons in by_id.values() for reason in reasons)
    assert [r.counted_as for r in by_id["1"]] == ["VADER", "refund", "followers", "repeat"]
    assert [r.counted_as for r in by_id["3"]] == ['"website"', "model", "question to the brand"]
    assert by_id["2"] == [
        Reason("written by one of the brand's own accounts", None, ReasonKind.NOTE)
    ]


def test_downgrade_gives_the_old_text_back(old_database: Engine) -> None:
    migrations.upgrade(old_database)
    with old_database.begin() as connection:
        command.downgrade(migrations.alembic_config(connection), "0005")
    assert stored(old_database) == OLD_ROWS
