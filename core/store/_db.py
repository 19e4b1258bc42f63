"""The engine and what every subject's queries share: the connection and the dialect's insert."""

import json
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Engine, Table, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Insert
from sqlmodel import create_engine


def connect(url: str) -> Engine:
    """An engine for `url`; SQLite gets WAL and a busy timeout so readers never block the poller."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            json_serializer=_to_json,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, json_serializer=_to_json)


def dialect_insert(engine: Engine) -> Callable[..., Any]:
    """The INSERT that knows ON CONFLICT for `engine`'s dialect (SQLite or PostgreSQL)."""
    return postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert


class BulkInsert:
    """INSERT … ON CONFLICT DO NOTHING of a page of rows, giving back `returning` of each row
    inserted (plain columns only: they come back as the driver reads them).

    SQLAlchemy's insertmanyvalues renders one statement holding every row's placeholders, and
    psycopg parses such a statement in Python on every call (it caches only those under 4 kB
    and 50 parameters): ~600 µs a mention here. So on PostgreSQL the one-row statement goes to
    psycopg's own executemany (pipeline mode, parsed once, prepared after a few pages), with
    the values converted by the columns' own types as SQLAlchemy would. SQLite parses in C
    and takes SQLAlchemy's multi-row statement as it is.
    """

    def __init__(
        self,
        engine: Engine,
        table: Table,
        conflict: Sequence[str],
        returning: Sequence[ColumnElement[Any]] = (),
    ):
        self.dialect = engine.dialect
        self.table = table
        statement = dialect_insert(engine)(table).on_conflict_do_nothing(index_elements=conflict)
        self.statement: Insert = statement.returning(*returning) if returning else statement
        self.returns = bool(returning)
        # The columns' Python-side defaults, which SQLAlchemy would fill in for absent keys.
        self.defaults: dict[str, Any] = {}
        for column in table.columns:
            if column.default is None:
                continue
            if not column.default.is_scalar:
                raise TypeError(f"{table.name}.{column.key}: only scalar defaults are filled in")
            self.defaults[column.key] = column.default.arg  # type: ignore[attr-defined]
        self._compiled: dict[tuple[str, ...], tuple[str, list[tuple[str, Any]]]] = {}

    def run(self, session: Session, rows: Sequence[dict[str, Any]]) -> list[tuple[Any, ...]]:
        if not rows:
            return []
        if self.dialect.name != "postgresql":
            result = session.execute(self.statement, list(rows))
            return [tuple(row) for row in result] if self.returns else []
        keys = tuple(dict.fromkeys([*rows[0], *self.defaults]))
        sql, processors = self._compile(keys)
        params = []
        for row in rows:
            values = {**self.defaults, **row}
            for key, process in processors:
                values[key] = process(values[key])
            params.append(values)
        cursor = session.connection().connection.cursor()
        try:
            cursor.executemany(sql, params, returning=self.returns)
            if not self.returns:
                return []
            returned: list[tuple[Any, ...]] = []
            while True:  # one result per row; empty where ON CONFLICT skipped it
                returned += cursor.fetchall()
                if not cursor.nextset():
                    return returned
        finally:
            cursor.close()

    def _compile(self, keys: tuple[str, ...]) -> tuple[str, list[tuple[str, Any]]]:
        """The one-row statement for rows with `keys`, and the columns' value converters."""
        if keys not in self._compiled:
            sql = self.statement.compile(dialect=self.dialect, column_keys=list(keys)).string
            processors = [
                (key, process)
                for key in keys
                if (
                    process := self.table.c[key]
                    .type.dialect_impl(self.dialect)
                    .bind_processor(self.dialect)
                )
            ]
            self._compiled[keys] = (sql, processors)
        return self._compiled[keys]


class StoreBase:
    """What every subject's methods rely on; `core.store.Store` sets it up."""

    engine: Engine
    # The node this process is (core/leases.py), written on the actions it claims, so a
    # crash recovery elsewhere retries only the actions of nodes that are gone.
    node: str
    _insert: Callable[..., Any]


def _to_json(value: Any) -> str:
    # Payloads come from outside; anything json can't take (bytes, odd numbers) becomes text.
    # ASCII escapes keep unpaired surrogates and NULs from reaching the database as raw text.
    return _ENCODER.encode(value)


# What json.dumps(value, default=str) builds on every call, built once: the same text.
_ENCODER = json.JSONEncoder(default=str)
