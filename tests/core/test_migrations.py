"""The migrations are the schema: they build exactly what core/models.py declares, both ways.

When this fails after a change to core/models.py, add a revision: `python3 main.py db revision
-m "what changed"` (see docs/production.md), read it, and commit it with the model change.
"""

import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text
from sqlmodel import SQLModel

import main
from core import migrations
from core.mention import Mention
from core.store import Decision, Store, connect
from service import db_cli
from tests.conftest import REPO, SHIPPED_CONFIG

EXTRA_REVISION = '''
"""a column added after the first release"""
import sqlalchemy as sa
from alembic import op

revision = "9001"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mention") as batch:
        batch.add_column(sa.Column("extra", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("mention") as batch:
        batch.drop_column("extra")
'''


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrated.db'}"
    else:
        yield request.getfixturevalue("scratch_postgres_url")


@pytest.fixture
def engine(empty_url: str) -> Iterator[Engine]:
    engine = connect(empty_url)
    yield engine
    engine.dispose()


def schema_diff(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, SQLModel.metadata))


def test_the_migrations_build_exactly_the_models_schema(engine: Engine) -> None:
    migrations.upgrade(engine)
    assert schema_diff(engine) == [], "core/models.py changed without a migration"
    assert migrations.state(engine).up_to_date


def test_downgrade_to_nothing_and_up_again(engine: Engine) -> None:
    migrations.upgrade(engine)
    with engine.begin() as connection:
        command.downgrade(migrations.alembic_config(connection), "base")
    assert set(inspect(engine).get_table_names()) <= {migrations.VERSION_TABLE}
    migrations.upgrade(engine)
    assert schema_diff(engine) == []


def test_a_new_empty_database_is_created_on_first_open(empty_url: str) -> None:
    store = Store.open(empty_url)
    try:
        assert migrations.state(store.engine).up_to_date
    finally:
        store.close()


def test_a_new_empty_database_gets_its_schema_from_a_child_process(engine: Engine) -> None:
    # The URL is a new database's: this process runs no migration, the child does.
    migrations.create_empty_apart(str(engine.url.render_as_string(hide_password=False)))
    assert migrations.stored_revisions(engine) == [migrations.HEAD_REVISION]
    assert schema_diff(engine) == []


def test_the_child_process_leaves_a_database_that_is_not_empty_to_the_node(
    engine: Engine,
) -> None:
    SQLModel.metadata.create_all(engine)  # tables made before migrations existed
    migrations.create_empty_apart(str(engine.url.render_as_string(hide_password=False)))
    assert migrations.stored_revisions(engine) == []
    with pytest.raises(migrations.SchemaError, match="no migration history"):
        migrations.ensure_current(engine)


def test_an_in_memory_database_is_created_in_the_process_that_uses_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_child(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a child process cannot see this process's in-memory database")

    monkeypatch.setattr(subprocess, "run", no_child)
    migrations.create_empty_apart("sqlite://")
    migrations.create_empty_apart("sqlite:///file:mem?mode=memory&uri=true")


def test_the_head_revision_constant_is_the_newest_migration() -> None:
    # The hot path trusts HEAD_REVISION instead of reading versions/ through Alembic.
    assert migrations.head() == migrations.HEAD_REVISION


def test_a_current_database_is_checked_without_importing_alembic(empty_url: str) -> None:
    Store.open(empty_url).close()  # creates the schema (Alembic)
    check = (
        "import sys; from core.store import Store; "
        f"Store.open({empty_url!r}).close(); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert result.stdout.strip() == "[]"


def test_an_outdated_schema_is_refused_until_db_upgrade_keeps_the_data(
    empty_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store.open(empty_url)
    now = datetime.now(UTC)
    store.ingest("x:mentions", [Mention("x", "1", "hello", now)], "c1", _nothing, now)
    store.close()
    # A later BrandPulse: the same history plus one revision.
    released = migrations.head()
    newer = tmp_path / "newer"
    shutil.copytree(migrations.HERE, newer)
    (newer / "versions" / "9001_extra.py").write_text(EXTRA_REVISION.format(head=released))
    monkeypatch.setattr(migrations, "HERE", newer)
    monkeypatch.setattr(migrations, "HEAD_REVISION", "9001")  # that BrandPulse's constant

    with pytest.raises(migrations.SchemaError, match=r"run `main.py db upgrade`"):
        Store.open(empty_url)
    assert db_cli.current(empty_url)[0] is False

    assert f"upgraded from revision {released} to 9001" in db_cli.upgrade(empty_url)

    store = Store.open(empty_url)
    try:
        assert [m.external_id for m in store.mentions()] == ["1"]
        with store.engine.connect() as connection:
            assert connection.execute(text("SELECT extra FROM mention")).scalar() is None
    finally:
        store.close()
    assert db_cli.upgrade(empty_url) == "database schema is current (revision 9001)"


def test_run_refuses_to_start_on_a_schema_it_does_not_know(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'future.db'}"
    Store.open(url).close()
    engine = connect(url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'ffff'"))
    engine.dispose()
    monkeypatch.setenv("BRANDPULSE_DATABASE_URL", url)

    assert main.main(["run", "--once", "--config", str(SHIPPED_CONFIG)]) == 2
    assert "migrated by a newer version" in capsys.readouterr().err


def test_db_upgrade_and_current_on_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BRANDPULSE_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    config = ["--config", str(SHIPPED_CONFIG)]

    assert main.main(["db", "current", *config]) == 1
    assert f"no database at {tmp_path / 'cli.db'} yet" in capsys.readouterr().err
    assert not (tmp_path / "cli.db").exists()
    assert main.main(["db", "upgrade", *config]) == 0
    assert f"to {migrations.head()}" in capsys.readouterr().out
    assert main.main(["db", "current", *config]) == 0
    assert "is current" in capsys.readouterr().out


def _nothing(_: Mention) -> Decision:
    return Decision(sentiment=0.0, urgency=0)


def test_a_first_look_at_a_schema_mid_creation_is_checked_again_under_the_lock(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nodes starting together: one node's unlocked look can fall between another node's
    creating the tables and its revision becoming visible. It must wait and look again, not
    refuse to start with "tables but no migration history"."""
    engine = connect(database_url)
    try:
        migrations.upgrade(engine)  # what the other node has finished by the time we lock
        mid_creation = migrations.SchemaState(None, migrations.head(), True, has_tables=True)
        monkeypatch.setattr(migrations, "state", lambda _engine: mid_creation)
        migrations.ensure_current(engine)  # no SchemaError
    finally:
        engine.dispose()
