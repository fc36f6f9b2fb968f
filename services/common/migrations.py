"""Schema versions with Alembic: one history per service, in `services/<service>/migrations`.

A service serves on a database at its code's head revision (or a newer one: `prepare`). `kcc db
upgrade` brings the database there; with KCC_MIGRATE_AT_START the service does it itself when it starts, under a lock,
so that two replicas never migrate at once (PostgreSQL: an advisory lock per schema; SQLite: a lock
file beside the database). A database made by `create_all` before there were migrations holds the
first revision's tables without a version table: it is stamped with that revision, then upgraded.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import logging
import tempfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

# Alembic names each of its plugins at INFO as it is imported (below); its migration steps stay at INFO.
logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from sqlalchemy import Connection, Engine, MetaData, create_engine, inspect, text
from sqlalchemy.sql.schema import Table
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel

log = logging.getLogger(__name__)


class SchemaOutOfDate(RuntimeError):
    """The database is not at the revision this code was written for."""


@dataclass(frozen=True)
class ServiceSchema:
    """The tables one service owns (its own plus the outbox and processed-event tables) and their history."""

    name: str  # tenancy, routing, callbacks: also the PostgreSQL schema
    tables: tuple[Table, ...]
    # Alembic's script location: the package's own unless a test works on a copy.
    location: str = ""

    @property
    def script_location(self) -> str:
        return self.location or f"services.{self.name}:migrations"

    @classmethod
    def of(cls, name: str, models: Sequence[type[SQLModel]]) -> ServiceSchema:
        tables = []
        for model in models:
            table = getattr(model, "__table__", None)
            if not isinstance(table, Table):
                raise TypeError(f"{model.__name__} is not a table model")
            tables.append(table)
        return cls(name, tuple(tables))

    def metadata(self) -> MetaData:
        """Only this service's tables: the shared SQLModel metadata holds every service's."""
        metadata = MetaData()
        for table in self.tables:
            table.to_metadata(metadata)
        return metadata

    def config(self, connection: Connection, compare: bool = False) -> Config:
        """`compare`: with the models' metadata, which only autogenerate needs (copying it takes time)."""
        config = Config()
        config.set_main_option("script_location", self.script_location)
        config.attributes["connection"] = connection
        config.attributes["metadata"] = self.metadata() if compare else None
        return config

    def script(self) -> ScriptDirectory:
        return _script_directory(self.script_location)

    def head(self) -> str:
        heads = self.script().get_heads()
        if len(heads) != 1:
            raise SchemaOutOfDate(f"the {self.name} migrations have {len(heads)} heads {heads}: merge them into one")
        return heads[0]


def run_env() -> None:
    """What every service's `migrations/env.py` does: migrate on the connection it is given."""
    from alembic import context

    context.configure(
        connection=context.config.attributes["connection"],
        target_metadata=context.config.attributes["metadata"],
        render_as_batch=True,  # SQLite alters a table by copying it; PostgreSQL alters in place
        compare_type=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def _render_item(kind: str, item: Any, _context: Any) -> str | Literal[False]:
    """sqlmodel's types (AutoString, UTCDateTime) decorate plain SQL types: a revision names the SQL
    type, so the database's columns are what they were with create_all and no revision imports sqlmodel."""
    if kind == "type" and isinstance(item, TypeDecorator) and type(item).__module__.startswith("sqlmodel."):
        return f"sa.{item.impl!r}"
    return False


def new_revision(schema: ServiceSchema, message: str) -> Path:
    """Autogenerates the revision from head to the models, numbered `<service>_<n>`; read it before committing."""
    with tempfile.TemporaryDirectory() as folder:
        engine = create_engine(f"sqlite:///{folder}/{schema.name}.db")
        try:
            upgrade(engine, schema)
            with engine.connect() as connection:
                number = len(_known(schema)) + 1
                script = command.revision(
                    schema.config(connection, compare=True),
                    message,
                    autogenerate=True,
                    rev_id=f"{schema.name}_{number:04d}",
                )
        finally:
            engine.dispose()
    _script_directory.cache_clear()  # the history has one more revision now
    if not isinstance(script, Script):
        raise RuntimeError(f"alembic wrote no single revision for {schema.name}")
    return Path(script.path)


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def prepare(engine: Engine, schema: ServiceSchema, migrate: bool) -> None:
    """Called when a service starts: returns when the database is at head, migrating only if allowed.

    A database at a revision this code does not know was upgraded for a newer version (a rolling
    update under way, or a rollback of the image): revisions keep the schema usable by the code
    before them, so the service serves on it.
    """
    head = schema.head()
    with engine.connect() as connection:
        current = current_revision(connection)
    if current == head:
        return
    if current is not None and current not in _known(schema):
        _refuse_foreign(current, schema)
        log.warning("the %s database is at %s, newer than this code's %s; serving on it", schema.name, current, head)
        return
    if not migrate:
        found = f"revision {current}" if current else "no schema version"
        raise SchemaOutOfDate(
            f"the {schema.name} database has {found}; this code needs {head}: "
            f"run `kcc db upgrade --service {schema.name}` (or start with KCC_MIGRATE_AT_START=true)"
        )
    upgrade(engine, schema)


def upgrade(engine: Engine, schema: ServiceSchema, revision: str = "head") -> str | None:
    """Upgrades under the schema's lock and returns the revision the database is at.

    A no-op for a database already there, and for "head" on a database a newer version migrated
    (an older pod's `kcc db upgrade` during a rolling update or a rollback): it is past this code.
    """
    with _migrating(engine, schema.name) as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema.name}"'))
            connection.commit()
        config = schema.config(connection)
        current = current_revision(connection)
        if current is not None and current not in _known(schema):
            _refuse_foreign(current, schema)
            if revision == "head":
                log.warning(
                    "the %s database is at %s, newer than this code's %s: nothing to do",
                    schema.name,
                    current,
                    schema.head(),
                )
                return current
            raise SchemaOutOfDate(
                f"the {schema.name} database is at revision {current}, which this code does not know "
                f"(a newer version migrated it): it cannot go to {revision}"
            )
        if current is None and _has_tables(connection, schema):
            (first,) = schema.script().get_bases()
            command.stamp(config, first)
        command.upgrade(config, revision)
        connection.commit()
        return current_revision(connection)


def differences(engine: Engine, schema: ServiceSchema) -> list[Any]:
    """What the database lacks or has beyond the models: empty when every model change has a revision."""
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, schema.metadata()))


@functools.cache
def _script_directory(location: str) -> ScriptDirectory:
    """Read once per process: the revision files do not change under a running service."""
    config = Config()
    config.set_main_option("script_location", location)
    return ScriptDirectory.from_config(config)


def _known(schema: ServiceSchema) -> set[str]:
    return {script.revision for script in schema.script().walk_revisions()}


def _refuse_foreign(current: str, schema: ServiceSchema) -> None:
    """Revisions are named `<service>_<n>`: another name means two services share one database."""
    if not current.startswith(f"{schema.name}_"):
        raise SchemaOutOfDate(
            f"the {schema.name} database holds another service's schema (revision {current}): each service "
            "needs its own SQLite file or PostgreSQL schema (leave KCC_DATABASE_URL empty, or use PostgreSQL)"
        )


def _has_tables(connection: Connection, schema: ServiceSchema) -> bool:
    existing = set(inspect(connection).get_table_names())
    return any(table.name in existing for table in schema.tables)


@contextlib.contextmanager
def _migrating(engine: Engine, name: str) -> Iterator[Connection]:
    """A connection held by the schema's one migrator; the others wait, then find the work done.
    On SQLite the lock comes before the connection: two first connections to a new file race to
    switch it to WAL, and the loser gets "database is locked" at once."""
    if engine.dialect.name == "postgresql":
        key = zlib.crc32(f"kcc-migrate:{name}".encode())
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
            connection.commit()
            try:
                yield connection
            finally:
                connection.rollback()
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                connection.commit()
        return
    database = engine.url.database
    if not database or database == ":memory:":
        with engine.connect() as connection:
            yield connection
        return
    with open(f"{database}.migrate-lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            with engine.connect() as connection:
                yield connection
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
