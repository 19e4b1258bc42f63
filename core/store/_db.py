"""The engine and what every subject's queries share: the connection and the dialect's insert."""

import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.dialects import postgresql, sqlite
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
    return json.dumps(value, default=str)
