"""Alembic runs this for the callbacks schema, like every service (services/common/migrations.py)."""

from services.common.migrations import run_env

run_env()
