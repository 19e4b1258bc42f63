"""cover mention author recent: the repeat-complainer count read from its indexes alone

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 18:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The count (core/store/mentions.py, earlier_by_same_author) also reads each found mention's
# platform, external id and other author key. From (author, created_at) alone it fetched every
# such mention's row, text and raw payload included: the work grew with how often the batch's
# authors had written (0.13 → 0.39 s per 10,000 mentions from 10,000 to 100,000 stored when
# each author wrote 20 in the window). These indexes start with the same two columns, so
# nothing that used the old ones loses, and an insert updates as many indexes as before.
REPLACED = {
    "ix_mention_author_id_created_at": (
        "ix_mention_author_id_recent",
        ["author_id", "created_at", "platform", "external_id", "author_handle"],
    ),
    "ix_mention_author_handle_created_at": (
        "ix_mention_author_handle_recent",
        ["author_handle", "created_at", "platform", "external_id", "author_id"],
    ),
}


def upgrade() -> None:
    with op.batch_alter_table("mention", schema=None) as batch_op:
        for old, (new, columns) in REPLACED.items():
            batch_op.create_index(new, columns, unique=False)
            batch_op.drop_index(old)


def downgrade() -> None:
    with op.batch_alter_table("mention", schema=None) as batch_op:
        for old, (new, columns) in REPLACED.items():
            batch_op.create_index(old, columns[:2], unique=False)
            batch_op.drop_index(new)
