"""Database engine per service: a SQLite file by default, a PostgreSQL schema in production.

Each service owns its tables. With one PostgreSQL URL the services share a server
but not a schema, so none can read another's tables by accident.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Engine, event
from sqlmodel import Session, create_engine

T = TypeVar("T")


def _normalise(url: str) -> str:
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str, schema: str) -> Engine:
    url = _normalise(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    # The schema itself is made by the first upgrade (services/common/migrations.py), under its lock.
    return create_engine(
        url,
        pool_size=10,
        max_overflow=10,
        pool_pre_ping=True,
        connect_args={"options": f"-csearch_path={schema}"},
    )


class Database:
    """Runs blocking session work off the event loop, one transaction per call."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def transaction(self, work: Callable[[Session], T]) -> T:
        with Session(self.engine, expire_on_commit=False) as session:
            result = work(session)
            session.commit()
            return result

    async def run(self, work: Callable[[Session], T]) -> T:
        return await asyncio.to_thread(self.transaction, work)
