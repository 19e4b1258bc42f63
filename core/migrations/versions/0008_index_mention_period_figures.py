"""index mention period figures: a covering index for the report's and dashboard's scans

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 10:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every column core/store/figures.py reads from a period's mentions but the JSON lists (which
# PostgreSQL cannot put in a b-tree): the scans read the index, not the rows with their text.
COLUMNS = [
    *("created_at", "platform", "source", "lang", "sentiment"),
    *("author_id", "author_handle", "author_followers", "id"),  # id: "answered" is by id
]


def upgrade() -> None:
    with op.batch_alter_table("mention", schema=None) as batch_op:
        batch_op.create_index("ix_mention_period_figures", COLUMNS, unique=False)


def downgrade() -> None:
    with op.batch_alter_table("mention", schema=None) as batch_op:
        batch_op.drop_index("ix_mention_period_figures")
