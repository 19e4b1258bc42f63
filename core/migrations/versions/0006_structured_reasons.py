"""mention reasons: structured objects ({label, points, kind, topic}) instead of display text

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 18:30:00
"""

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from core.reasons import as_reason

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Plain JSON here, not the model's ReasonList: the rows are read and written as they are stored.
_MENTION = sa.table("mention", sa.column("id", sa.Integer), sa.column("reasons", sa.JSON))
_PAGE = 1000  # rows per read and per UPDATE batch, so a large table never sits in memory


def upgrade() -> None:
    _rewrite(lambda item: as_reason(item).to_json())


def downgrade() -> None:
    _rewrite(lambda item: str(as_reason(item)))


def _rewrite(convert: Callable[[Any], Any]) -> None:
    """Convert every stored reason with `convert`, a page of mentions at a time, by id."""
    connection = op.get_bind()
    update = (
        _MENTION.update()
        .where(_MENTION.c.id == sa.bindparam("row_id"))
        .values(reasons=sa.bindparam("new_reasons", type_=sa.JSON))
    )
    after = 0
    while True:
        page = connection.execute(
            sa.select(_MENTION.c.id, _MENTION.c.reasons)
            .where(_MENTION.c.id > after)
            .order_by(_MENTION.c.id)
            .limit(_PAGE)
        ).all()
        if not page:
            return
        changed = []
        for row_id, reasons in page:
            if not reasons:
                continue
            converted = [convert(item) for item in reasons]
            if converted != reasons:
                changed.append({"row_id": row_id, "new_reasons": converted})
        if changed:
            connection.execute(update, changed)
        after = page[-1][0]
