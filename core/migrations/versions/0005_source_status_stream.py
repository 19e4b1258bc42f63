"""source status: the figures of a streamed source's connection

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("source_status", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stream", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("source_status", schema=None) as batch_op:
        batch_op.drop_column("stream")
