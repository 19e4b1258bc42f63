"""index mention author recent: (author, created_at) for the repeat-complainer lookup

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 12:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The lookup (core/store/mentions.py, earlier_by_same_author) asks for an author's mentions since a
# time: with created_at beside the author each side of it is one index range, not every mention
# the author ever wrote. The one-column indexes they replace are these indexes' prefixes, so
# nothing that used them loses, and each insert keeps the same number of indexes to update.
REPLACED = {
    "ix_mention_author_id": "ix_mention_author_id_created_at",
    "ix_mention_author_handle": "ix_mention_author_handle_created_at",
}
COLUMNS = {"ix_mention_author_id": "author_id", "ix_mention_author_handle": "author_handle"}


def upgrade() -> None:
    with op.batch_alter_table("mention", schema=None) as batch_op:
        for old, new in REPLACED.items():
            batch_op.create_index(new, [COLUMNS[old], "created_at"], unique=False)
            batch_op.drop_index(old)


def downgrade() -> None:
    with op.batch_alter_table("mention", schema=None) as batch_op:
        for old, new in REPLACED.items():
            batch_op.create_index(old, [COLUMNS[old]], unique=False)
            batch_op.drop_index(new)
