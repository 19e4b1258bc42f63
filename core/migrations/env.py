"""Alembic's environment: runs on the connection BrandPulse hands it, never on a URL of its own.

`core.migrations` opens the connection from the configured `database.url` and passes it in
`config.attributes["connection"]`, so there is no alembic.ini with a URL to forget to change.
"""

from typing import Any

from alembic import context
from sqlalchemy import TypeDecorator
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString

import core.store  # noqa: F401  (imports every table, so the metadata is complete)


def render_item(kind: str, item: Any, autogen: Any) -> str | bool:
    """Write plain SQLAlchemy types into revision files, never our own or sqlmodel's classes.

    A revision must keep meaning the same schema after `core/models.py` has moved on.
    """
    if kind != "type":
        return False
    if isinstance(item, AutoString):
        return f"sa.String(length={item.length})" if item.length else "sa.String()"
    if isinstance(item, TypeDecorator):
        return f"sa.{item.impl!r}"
    return False


def run_migrations() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError(
            "BrandPulse migrations run through `main.py db upgrade` (or `main.py db revision`), "
            "which connect to the database configured in config.yaml"
        )
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        compare_type=True,
        # SQLite cannot ALTER most things; batch mode rebuilds the table, and is a plain
        # ALTER on PostgreSQL, so one revision file serves both.
        render_as_batch=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported; use `main.py db upgrade`")
run_migrations()
