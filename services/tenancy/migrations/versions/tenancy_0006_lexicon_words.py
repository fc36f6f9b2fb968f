"""Agents' corrections: words the catalogue does not know kept as keyed hashes until shared, and
an index for the purge by age.

Corrections stored before this revision keep their words as they were (a migration has no key to
hash them with) until the purge takes them, 180 days after they were made.

Revision ID: tenancy_0006
Revises: tenancy_0005
Create Date: 2026-12-03 14:07:05.384584
"""

import sqlalchemy as sa
from alembic import op

revision = "tenancy_0006"
down_revision = "tenancy_0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lexicon_word",
        sa.Column("tenant", sa.String(length=16), nullable=False),
        sa.Column("word_hash", sa.String(length=32), nullable=False),
        sa.Column("question", sa.String(length=64), nullable=False),
        sa.Column("seen_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("word", sa.String(length=30), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "word_hash", "question"),
    )
    with op.batch_alter_table("lexicon_word", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lexicon_word_seen_time"), ["seen_time"], unique=False)
    with op.batch_alter_table("lexicon_correction", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lexicon_correction_complete_time"), ["complete_time"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("lexicon_correction", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lexicon_correction_complete_time"))
    with op.batch_alter_table("lexicon_word", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lexicon_word_seen_time"))
    op.drop_table("lexicon_word")
