"""Request ids of creates per tenant and method, with a digest of the request.

The old global `create_request` rows are carried over (tenant and method read from the name
they made, no digest: a retry of one is answered as before). The old table stays for the
code of the release before, during a rolling update; a later revision drops it.

Revision ID: tenancy_0003
Revises: tenancy_0002
Create Date: 2026-12-03 11:06:27.381935
"""

import sqlalchemy as sa
from alembic import op

revision = "tenancy_0003"
down_revision = "tenancy_0002"
branch_labels = None
depends_on = None

METHODS = {
    "departments": "CreateDepartment",
    "products": "CreateProduct",
    "entryPoints": "CreateEntryPoint",
    "slaPolicies": "CreateSlaPolicy",
}


def upgrade() -> None:
    table = op.create_table(
        "idempotent_create",
        sa.Column("tenant", sa.String(length=16), nullable=False),
        sa.Column("method", sa.String(length=64), nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=False),
        sa.Column("resource_name", sa.String(length=255), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "method", "request_id"),
    )
    old = sa.table("create_request", sa.column("request_id"), sa.column("resource_name"))
    rows = []
    for request_id, name in op.get_bind().execute(sa.select(old.c.request_id, old.c.resource_name)):
        parts = name.split("/")
        method = "CreateTenant" if len(parts) == 2 else METHODS.get(parts[2] if len(parts) == 4 else "")
        if parts[0] == "tenants" and method:
            rows.append(
                {"tenant": parts[1], "method": method, "request_id": request_id, "resource_name": name, "digest": ""}
            )
    if rows:
        op.bulk_insert(table, rows)


def downgrade() -> None:
    op.drop_table("idempotent_create")
