"""Agents' corrections of recognition per tenant: content words and a keyed hash, never text.

Revision ID: tenancy_0005
Revises: tenancy_0004
Create Date: 2026-12-03 12:13:18.686653
"""

import sqlalchemy as sa
from alembic import op

revision = "tenancy_0005"
down_revision = "tenancy_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lexicon_correction",
        sa.Column("tenant", sa.String(length=16), nullable=False),
        sa.Column("contact", sa.String(length=64), nullable=False),
        sa.Column("week", sa.String(length=8), nullable=False),
        sa.Column("complete_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recognised_product_uri", sa.String(length=255), nullable=False),
        sa.Column("recognised_refer_to", sa.String(length=32), nullable=False),
        sa.Column("product_uri", sa.String(length=255), nullable=False),
        sa.Column("refer_to", sa.String(length=32), nullable=False),
        sa.Column("confirmed", sa.Boolean(), nullable=False),
        sa.Column("words", sa.String(length=1000), nullable=False),
        sa.Column("question_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "contact"),
    )


def downgrade() -> None:
    op.drop_table("lexicon_correction")
