"""Schema migrations, on SQLite and PostgreSQL: data survives an upgrade, every model change has a
revision, a service refuses a schema older than its code, and concurrent upgrades do not race."""

from __future__ import annotations

import importlib
import os
import pkgutil
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Column, Engine, MetaData, String, column, select, table, text
from sqlmodel import SQLModel

import services
from services import db_cli, launcher
from services.callbacks.app import CallbacksApp
from services.cli import main
from services.common.app import ServiceApp
from services.common.config import Settings
from services.common.db import make_engine
from services.common.migrations import (
    SchemaOutOfDate,
    ServiceSchema,
    current_revision,
    differences,
    new_revision,
    prepare,
    upgrade,
)
from services.tenancy.app import TenancyApp

ROOT = Path(__file__).resolve().parent.parent
WHEN = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)

EngineFor = Callable[[str], Engine]


def service_url(database_url: str, tmp_path: Path, service: str) -> str:
    """As config.database_url_for does it: a SQLite file per service, or one PostgreSQL database."""
    return f"sqlite:///{tmp_path / f'{service}.db'}" if database_url.startswith("sqlite") else database_url


@pytest.fixture
def engine_for(database_url: str, tmp_path: Path) -> Iterator[EngineFor]:
    made: list[Engine] = []

    def make(service: str) -> Engine:
        made.append(make_engine(service_url(database_url, tmp_path, service), service))
        return made[-1]

    yield make
    for engine in made:
        engine.dispose()


def first(schema: ServiceSchema) -> str:
    """The first revision: the schema as it was before there were migrations."""
    (base,) = schema.script().get_bases()
    return base


def callback_row(**overrides: object) -> dict[str, object]:
    """A callback as the first revision's columns hold it (written without the current model)."""
    row: dict[str, object] = {
        "tenant": "gm0268",
        "id": "cb-1",
        "department": "burgerzaken",
        "product_uri": "http://standaarden.overheid.nl/owms/terms/paspoort",
        "contact": "tenants/gm0268/contacts/c-1",
        "channel": 1,
        "phone_encrypted": "gAAAA-sealed",
        "note_encrypted": "",
        "preferred_times": "ochtend",
        "citizen_key": "k" * 64,
        "status": "REQUESTED",
        "assignee": "",
        "attempts": 0,
        "outcome": "",
        "create_time": WHEN,
        "update_time": WHEN,
        "deadline": WHEN.replace(day=4),
        "warn_at": WHEN.replace(day=3),
        "first_attempt_time": None,
        "closed_time": None,
        "warned": False,
        "breached": False,
        "escalated": False,
        "max_attempts": 3,
        "escalation_target": "",
        "version": 1,
    }
    return {**row, **overrides}


def insert(engine: Engine, name: str, rows: list[dict[str, object]]) -> None:
    with engine.begin() as connection:
        connection.execute(table(name, *[column(key) for key in rows[0]]).insert(), rows)


def test_upgrade_from_the_first_schema_keeps_the_data(engine_for: EngineFor) -> None:
    schema = CallbacksApp.schema()
    engine = engine_for("callbacks")
    assert upgrade(engine, schema, first(schema)) == first(schema)
    assert differences(engine, schema) != []  # the later revisions have something to do
    rows = [callback_row(), callback_row(id="cb-2", status="COMPLETED", closed_time=WHEN.replace(day=5))]
    insert(engine, "callback", rows)
    insert(
        engine,
        "outbox",
        [
            {
                "event_id": "e-1",
                "subject": "kcc.gm0268.callback.requested",
                "payload": b"\x0a\x01x",
                "trace_headers": "{}",
                "created_at": WHEN,
            }
        ],
    )
    insert(
        engine, "processed_event", [{"consumer": "callbacks-contact-usage", "event_id": "e-0", "processed_at": WHEN}]
    )

    assert upgrade(engine, schema) == schema.head()

    assert differences(engine, schema) == []
    with engine.connect() as connection:
        stored = [dict(r._mapping) for r in connection.execute(select(schema.metadata().tables["callback"]))]
        outbox = connection.execute(text("SELECT event_id, payload FROM outbox")).all()
        processed = connection.execute(text("SELECT consumer, event_id FROM processed_event")).all()
    assert sorted(stored, key=lambda r: str(r["id"])) == rows
    assert [(e, bytes(p)) for e, p in outbox] == [("e-1", b"\x0a\x01x")]
    assert [tuple(p) for p in processed] == [("callbacks-contact-usage", "e-0")]


def test_a_database_from_before_migrations_is_adopted_at_the_first_revision(engine_for: EngineFor) -> None:
    """Such a database has the first revision's tables (create_all made them) and no version table."""
    schema = CallbacksApp.schema()
    engine = engine_for("callbacks")
    upgrade(engine, schema, first(schema))
    insert(engine, "callback", [callback_row()])
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE alembic_version"))

    prepare(engine, schema, migrate=True)

    with engine.connect() as connection:
        assert current_revision(connection) == schema.head()
        assert connection.execute(text("SELECT id, preferred_times FROM callback")).all() == [("cb-1", "ochtend")]
    assert differences(engine, schema) == []


def test_every_service_with_a_database_has_a_history_that_owns_its_tables() -> None:
    """`kcc db` knows every service that keeps a database (the test below checks each of them), and
    every table model is in one of their schemas: a table no schema lists is made by no revision."""
    for module in pkgutil.walk_packages(services.__path__, "services."):
        if ".migrations" not in module.name:
            importlib.import_module(module.name)
    apps = {app.name: app for app in ServiceApp.__subclasses__()}
    assert apps.keys() == set(launcher.SERVICES)
    assert {name for name, app in apps.items() if app.uses_database} == db_cli.APPS.keys()
    owned = {table.name for service in db_cli.APPS for table in db_cli.service_schema(service).tables}
    assert set(SQLModel.metadata.tables) - owned == set()


@pytest.mark.parametrize("service", db_cli.APPS)
def test_every_model_change_has_a_revision(engine_for: EngineFor, service: str) -> None:
    """The revisions, run from nothing, make exactly the models' tables; otherwise `kcc db revision`."""
    schema = db_cli.service_schema(service)
    engine = engine_for(service)
    upgrade(engine, schema)
    assert differences(engine, schema) == [], f"models of {service} changed without a revision: kcc db revision"


def test_the_check_sees_a_model_change(engine_for: EngineFor) -> None:
    """The check above can fail: a column or an index the revisions do not make is a difference."""
    schema = CallbacksApp.schema()
    engine = engine_for("callbacks")
    upgrade(engine, schema)
    metadata = MetaData()
    changed = [t.to_metadata(metadata) for t in schema.tables]
    callback = metadata.tables["callback"]
    callback.append_column(Column("language", String(8), nullable=False, server_default="nl"))
    callback.indexes = {i for i in callback.indexes if i.name != "ix_callback_created"}

    found = differences(engine, ServiceSchema("callbacks", tuple(changed)))

    kinds = sorted(d[0] if isinstance(d, tuple) else d[0][0] for d in found)
    assert kinds == ["add_column", "remove_index"], found


def test_a_new_revision_brings_a_database_to_a_changed_model(engine_for: EngineFor, tmp_path: Path) -> None:
    """What `kcc db revision` does for a developer, on a copy of the callbacks history."""
    copy = tmp_path / "migrations"
    shutil.copytree(ROOT / "services" / "callbacks" / "migrations", copy, ignore=shutil.ignore_patterns("__pycache__"))
    known = CallbacksApp.schema()
    metadata = MetaData()
    tables = tuple(t.to_metadata(metadata) for t in known.tables)
    metadata.tables["callback"].append_column(Column("language", String(8), nullable=True))
    changed = ServiceSchema("callbacks", tables, location=str(copy))
    engine = engine_for("callbacks")
    upgrade(engine, changed)
    assert differences(engine, changed) != []

    written = new_revision(changed, "Callbacks remember the language the citizen asked in")

    number = len(list(known.script().walk_revisions())) + 1
    assert written.parent == copy / "versions" and written.name.startswith(f"callbacks_{number:04d}_")
    assert re.search(r"add_column\(\s*sa\.Column\(['\"]language['\"], sa\.String\(length=8\)", written.read_text())
    assert upgrade(engine, changed) == f"callbacks_{number:04d}"
    assert differences(engine, changed) == []


async def test_a_service_refuses_an_older_schema_until_kcc_db_upgrade(
    engine_for: EngineFor, database_url: str, tmp_path: Path, nats_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    schema = CallbacksApp.schema()
    upgrade(engine_for("callbacks"), schema, first(schema))
    url = "" if database_url.startswith("sqlite") else database_url
    settings = Settings(data_dir=tmp_path, database_url=url, nats_url=nats_url, migrate_at_start=False)

    with pytest.raises(SchemaOutOfDate, match=r"revision callbacks_0001.*run `kcc db upgrade --service callbacks`"):
        await CallbacksApp(settings).start(port=0)

    monkeypatch.setenv("KCC_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("KCC_DATABASE_URL", url)
    assert main(["db", "current", "--service", "callbacks"]) == 1
    assert main(["db", "upgrade", "--service", "callbacks"]) == 0
    assert main(["db", "current", "--service", "callbacks"]) == 0
    app = CallbacksApp(settings)
    await app.start(port=0)
    await app.stop(0)


def test_kcc_db_in_production_needs_the_database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KCC_ENV", "production")
    monkeypatch.setenv("KCC_DATABASE_URL", "")
    monkeypatch.setenv("KCC_DATA_DIR", str(tmp_path))

    with pytest.raises(SystemExit, match="kcc db upgrade: KCC_ENV=production needs KCC_DATABASE_URL"):
        main(["db", "upgrade"])

    assert list(tmp_path.iterdir()) == []


def test_an_empty_database_is_refused_without_migrate_at_start(engine_for: EngineFor) -> None:
    with pytest.raises(SchemaOutOfDate, match="tenancy database has no schema version"):
        prepare(engine_for("tenancy"), TenancyApp.schema(), migrate=False)


def test_older_code_serves_on_a_newer_schema_and_leaves_it_alone(
    engine_for: EngineFor, caplog: pytest.LogCaptureFixture
) -> None:
    """During a rolling update or a rollback, old pods start (and run `kcc db upgrade`) on the new schema."""
    schema = TenancyApp.schema()
    engine = engine_for("tenancy")
    upgrade(engine, schema)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'tenancy_9999'"))

    prepare(engine, schema, migrate=False)
    assert upgrade(engine, schema) == "tenancy_9999"  # an old pod's `kcc db upgrade`: nothing to do

    assert "the tenancy database is at tenancy_9999, newer than this code's" in caplog.text
    with pytest.raises(SchemaOutOfDate, match="revision tenancy_9999, which this code does not know"):
        upgrade(engine, schema, first(schema))


def test_two_services_in_one_sqlite_file_are_refused(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'shared.db'}", "shared")
    upgrade(engine, TenancyApp.schema())

    with pytest.raises(SchemaOutOfDate, match="callbacks database holds another service's schema"):
        prepare(engine, CallbacksApp.schema(), migrate=True)
    engine.dispose()


def test_kcc_serve_on_an_older_schema_stops_with_the_message(tmp_path: Path) -> None:
    schema = CallbacksApp.schema()
    engine = make_engine(f"sqlite:///{tmp_path / 'callbacks.db'}", "callbacks")
    upgrade(engine, schema, first(schema))
    engine.dispose()
    env = {**os.environ, "KCC_DATA_DIR": str(tmp_path), "KCC_DATABASE_URL": "", "KCC_MIGRATE_AT_START": "false"}

    done = subprocess.run(
        [sys.executable, "-m", "services.launcher", "callbacks"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 1
    assert "kcc serve callbacks: the callbacks database has revision callbacks_0001" in done.stderr
    assert "kcc db upgrade --service callbacks" in done.stderr
    assert "Traceback" not in done.stderr


def test_migrate_at_start_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KCC_MIGRATE_AT_START", raising=False)
    monkeypatch.setenv("KCC_ENV", "production")
    assert Settings().migrate_at_start is False
    monkeypatch.setenv("KCC_ENV", "development")
    assert Settings().migrate_at_start is True
    monkeypatch.setenv("KCC_MIGRATE_AT_START", "false")
    assert Settings().migrate_at_start is False
    monkeypatch.setenv("KCC_MIGRATE_AT_START", "sometimes")
    with pytest.raises(ValueError, match="KCC_MIGRATE_AT_START must be true or false"):
        Settings()


def test_two_replicas_migrating_at_once_do_not_race(engine_for: EngineFor) -> None:
    """Both start on an empty database at the same moment; one migrates, the other waits and finds it done."""
    schema = CallbacksApp.schema()
    engines = [engine_for("callbacks"), engine_for("callbacks")]
    start = threading.Barrier(len(engines))
    results: list[str | None] = []
    errors: list[BaseException] = []

    def replica(engine: Engine) -> None:
        start.wait()
        try:
            results.append(upgrade(engine, schema))
        except BaseException as exc:  # reported below, with the other replica's outcome
            errors.append(exc)

    threads = [threading.Thread(target=replica, args=(engine,)) for engine in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    assert results == [schema.head(), schema.head()]
    with engines[0].connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).all() == [(schema.head(),)]
    assert differences(engines[0], schema) == []
