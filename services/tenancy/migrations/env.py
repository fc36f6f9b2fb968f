"""Alembic runs this for the tenancy schema, like every service (services/common/migrations.py)."""

from services.common.migrations import run_env

run_env()
