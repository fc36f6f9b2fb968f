"""The callbacks schema's version history (Alembic): `kcc db upgrade` applies it, `kcc db revision` adds to it."""
