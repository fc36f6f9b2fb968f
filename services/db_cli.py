"""`kcc db`: the services' database schemas (Alembic, one version history per service).

Alembic is imported only by these commands, not by every `kcc` invocation.

An operator runs `kcc db upgrade` before rolling out a version whose services refuse an older
schema; a developer who changed a model runs `kcc db revision` and commits what it writes.
"""

from __future__ import annotations

import argparse
import importlib
from typing import TYPE_CHECKING

from services.common.config import Settings

if TYPE_CHECKING:
    from services.common.migrations import ServiceSchema

# service -> "module:class" of its ServiceApp, imported only when asked for.
APPS = {
    "tenancy": "services.tenancy.app:TenancyApp",
    "routing": "services.routing.app:RoutingApp",
    "callbacks": "services.callbacks.app:CallbacksApp",
}


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    db = sub.add_parser("db", help="database schemas: upgrade, current revision, new revision")
    commands = db.add_subparsers(dest="db_command", required=True)

    p = commands.add_parser("upgrade", help="bring each service's schema to its code's revision (under a lock)")
    p.add_argument("--service", choices=tuple(APPS), help="one service (default: all)")
    p.add_argument("--revision", default="head", help="target revision (default: head)")
    p.set_defaults(run=_upgrade)

    p = commands.add_parser("current", help="each service's revision in the database and the code's head")
    p.add_argument("--service", choices=tuple(APPS), help="one service (default: all)")
    p.set_defaults(run=_current)

    p = commands.add_parser("revision", help="write a revision for model changes (development; read it first)")
    p.add_argument("--service", choices=tuple(APPS), required=True)
    p.add_argument("-m", "--message", required=True, help="what changes and why")
    p.set_defaults(run=_revision)


def service_schema(service: str) -> ServiceSchema:
    module, _, name = APPS[service].partition(":")
    schema: ServiceSchema = getattr(importlib.import_module(module), name).schema()
    return schema


def _settings(command: str) -> Settings:
    """In production a migration goes to the PostgreSQL database, never to a SQLite file it would make."""
    settings = Settings()
    if settings.env == "production" and not settings.database_url:
        raise SystemExit(f"kcc db {command}: KCC_ENV=production needs KCC_DATABASE_URL (the PostgreSQL database)")
    return settings


def _services(args: argparse.Namespace) -> list[str]:
    return [args.service] if args.service else list(APPS)


def _upgrade(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from services.common.db import make_engine
    from services.common.migrations import SchemaOutOfDate, upgrade

    settings = _settings("upgrade")
    if args.revision != "head" and not args.service:
        raise SystemExit("kcc db upgrade: --revision names one service's revision; give --service too")
    for service in _services(args):
        engine = make_engine(settings.database_url_for(service), service)
        try:
            revision = upgrade(engine, service_schema(service), args.revision)
        except (SchemaOutOfDate, SQLAlchemyError) as exc:
            raise SystemExit(f"kcc db upgrade: {service}: {_reason(exc)}") from None
        finally:
            engine.dispose()
        print(f"{service}: at {revision}")
    return 0


def _current(args: argparse.Namespace) -> int:
    """Exits 1 when a schema is behind its code, so a deploy script can wait on it."""
    from sqlalchemy.exc import SQLAlchemyError

    from services.common.db import make_engine
    from services.common.migrations import current_revision

    settings = _settings("current")
    behind = False
    for service in _services(args):
        schema = service_schema(service)
        engine = make_engine(settings.database_url_for(service), service)
        try:
            with engine.connect() as connection:
                current = current_revision(connection)
        except SQLAlchemyError as exc:
            raise SystemExit(f"kcc db current: {service}: {_reason(exc)}") from None
        finally:
            engine.dispose()
        head = schema.head()
        behind = behind or current != head
        state = "up to date" if current == head else "needs `kcc db upgrade`"
        print(f"{service}: database {current or 'empty'}, code {head}: {state}")
    return 1 if behind else 0


def _revision(args: argparse.Namespace) -> int:
    from services.common.migrations import new_revision

    path = new_revision(service_schema(args.service), args.message)
    print(f"wrote {path}: read it, then ruff check --fix and ruff format it")
    return 0


def _reason(exc: Exception) -> str:
    """The first line only: a database error's full text may quote statements and parameters."""
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
