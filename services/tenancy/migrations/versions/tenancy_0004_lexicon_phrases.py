"""Lexicon phrases a tenant added to or suppressed from a product's default phrases.

Revision ID: tenancy_0004
Revises: tenancy_0003
Create Date: 2026-12-03 11:25:19.485606
"""

import sqlalchemy as sa
from alembic import op

revision = "tenancy_0004"
down_revision = "tenancy_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lexicon_phrase",
        sa.Column("tenant", sa.String(length=16), nullable=False),
        sa.Column("product", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("phrase", sa.String(length=200), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tenant"], ["tenant.id"]),
        sa.PrimaryKeyConstraint("tenant", "product", "action", "phrase"),
    )


def downgrade() -> None:
    op.drop_table("lexicon_phrase")
