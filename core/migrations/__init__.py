"""The database schema's history: Alembic revisions in `versions/`, run from code.

Every entry point (`main.py run`, `main.py db upgrade`, the tests) passes the engine built from
the configured `database.url`; there is no alembic.ini holding a URL of its own.

A brand-new empty database is brought to the newest revision on first open (SQLite needs no
set-up; on PostgreSQL several nodes starting together serialise on an advisory lock). A database
that has data but an older schema is never changed behind the operator's back: `run` refuses to
start and asks for `main.py db upgrade`.

Alembic costs a third of a second to import, so it is imported only where a migration runs or
the history must be read: on the hot path (`run` on a current database) `ensure_current` reads
`alembic_version` with plain SQL and compares it with `HEAD_REVISION`, which a test keeps equal
to the newest file in `versions/`. A long-running node that finds a new empty database has
`create_empty_apart` create the schema in a child process (`python -m core.migrations`): what
Alembic loads would otherwise stay in the node's memory for as long as it runs.
"""

import logging
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, make_url, text

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

HERE = Path(__file__).resolve().parent
VERSION_TABLE = "alembic_version"
# The newest revision in versions/; tests/core/test_migrations.py fails when they disagree.
HEAD_REVISION = "0010"
# pg_advisory_xact_lock key: nodes starting together upgrade an empty database one at a time.
UPGRADE_LOCK = 0x6272616E64  # "brand"

log = logging.getLogger(__name__)


class SchemaError(Exception):
    """The database's schema is not the one this BrandPulse was built for."""


@dataclass(frozen=True, slots=True)
class SchemaState:
    current: str | None  # the database's revision; None when it has none
    head: str  # the newest revision this BrandPulse knows
    known: bool  # the database's revision is one of ours
    has_tables: bool  # any BrandPulse table exists

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head

    @property
    def empty(self) -> bool:
        return self.current is None and not self.has_tables

    def problem(self) -> str:
        """Why `run` must not start on this database, or "" when it may."""
        if self.up_to_date:
            return ""
        if self.empty:
            return (
                f"the database is empty: `main.py db upgrade` (or `main.py run`) creates schema "
                f"{self.head}"
            )
        if self.current is None and self.has_tables:
            return (
                "the database has BrandPulse tables but no migration history (it was created "
                "before migrations existed); start from a new database, see docs/production.md"
            )
        if self.current is not None and not self.known:
            return (
                f"the database is at schema revision {self.current}, which this BrandPulse does "
                "not know: it was migrated by a newer version; upgrade BrandPulse"
            )
        return (
            f"the database schema is at revision {self.current or 'none'}, this BrandPulse needs "
            f"{self.head}: run `main.py db upgrade` (back the database up first)"
        )


def alembic_config(connection: Connection | None = None) -> "Config":
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(HERE))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def scripts() -> "ScriptDirectory":
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


def head() -> str:
    revision = scripts().get_current_head()
    if revision is None:
        raise SchemaError(f"no migrations found in {HERE / 'versions'}")
    return revision


def state(engine: Engine) -> SchemaState:
    with engine.connect() as connection:
        return _state_of(connection)


def _state_of(connection: Connection) -> SchemaState:
    # Here, not at the top: what only names SchemaError (every command's error handling, `rules
    # test`) must not import the ORM.
    from alembic.runtime.migration import MigrationContext
    from sqlmodel import SQLModel

    directory = scripts()
    newest = directory.get_current_head() or ""
    current = MigrationContext.configure(connection).get_current_revision()
    tables = set(inspect(connection).get_table_names())
    known = current is None or any(s.revision == current for s in directory.walk_revisions())
    ours = set(SQLModel.metadata.tables)
    return SchemaState(current, newest, known, bool(tables & ours))


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str]:
    """Migrate to `revision` in one transaction; returns (revision before, revision after)."""
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    with engine.begin() as connection:
        _lock_for_upgrade(connection)
        before = MigrationContext.configure(connection).get_current_revision()
        command.upgrade(alembic_config(connection), revision)
        after = MigrationContext.configure(connection).get_current_revision()
    return before, after or ""


def _lock_for_upgrade(connection: Connection) -> None:
    """Make this transaction the only one changing the schema until it ends."""
    if connection.dialect.name == "postgresql":
        # Held until this transaction ends: a second node waits, then finds nothing to do.
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({UPGRADE_LOCK})")
    elif connection.dialect.name == "sqlite":
        # pysqlite runs DDL outside any transaction unless told: a crash halfway would
        # leave half a schema. An explicit BEGIN makes the whole upgrade one transaction.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def ensure_current(engine: Engine, create_empty: bool = True) -> None:
    """Return when the schema is current; upgrade a brand-new empty database; else SchemaError."""
    if stored_revisions(engine) == [HEAD_REVISION]:
        return  # the common case, answered without importing Alembic
    found = state(engine)
    if found.up_to_date:
        return
    if found.current is None and create_empty:
        # Nodes starting together on a new database: one creates the schema while the others
        # wait on the lock. The first look ran unlocked, between two reads, so it may have seen
        # the tables of a creation under way without their revision: look again, locked.
        found = _create_if_empty(engine)
        if found.up_to_date:
            return
    raise SchemaError(found.problem())


def create_empty_apart(url: str) -> None:
    """Create a new empty database's schema in a child process, so this one never loads Alembic.

    Does nothing when the schema is current, and nothing for an in-memory SQLite database, which
    no other process can see. Whatever the child could not do, `ensure_current` does (or
    explains) afterwards in this process.
    """
    from core.store import connect

    if _in_memory(url):
        return
    engine = connect(url)
    try:
        if stored_revisions(engine) == [HEAD_REVISION]:
            return
    finally:
        engine.dispose()
    # The URL goes on stdin: a password in the arguments would show in `ps`.
    child = subprocess.run(
        [sys.executable, "-m", "core.migrations"],
        input=url,
        capture_output=True,
        text=True,
        env=_importable_env(),
        check=False,
    )
    if child.returncode != 0:
        last = (child.stderr.strip().splitlines() or ["no message"])[-1]
        log.warning("the schema could not be created in a child process (%s); trying here", last)


def _importable_env() -> dict[str, str]:
    # The working directory stays the operator's (a relative SQLite path means the same file);
    # the package is found wherever main.py was started from.
    root = str(HERE.parent.parent)
    paths = [root, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def _in_memory(url: str) -> bool:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return False
    return parsed.database in (None, "", ":memory:") or parsed.query.get("mode") == "memory"


def stored_revisions(engine: Engine) -> list[str]:
    """The revisions recorded in the database's `alembic_version` ([] when it has none)."""
    with engine.connect() as connection:
        if not inspect(connection).has_table(VERSION_TABLE):
            return []
        rows = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))
        return [revision for (revision,) in rows]


def _create_if_empty(engine: Engine) -> SchemaState:
    from alembic import command

    with engine.begin() as connection:
        _lock_for_upgrade(connection)
        found = _state_of(connection)
        if not found.empty:
            return found
        command.upgrade(alembic_config(connection), "head")
        return _state_of(connection)


def next_revision_id() -> str:
    """Revision ids are a zero-padded sequence (0001, 0002 …), so files sort in order."""
    numbers = [
        int(match.group(1))
        for script in scripts().walk_revisions()
        if (match := re.fullmatch(r"(\d+)", script.revision))
    ]
    return f"{max(numbers, default=0) + 1:04d}"
