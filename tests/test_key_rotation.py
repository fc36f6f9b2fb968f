"""Keys rotate without downtime, on the real services: tokens name their key (kid) and several keys
verify at once; personal data is read under every key of the ring while new writes use the newest,
and `kcc callbacks reencrypt` moves old rows on; citizen keys carry their secret's version."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import grpc
import jwt
import pytest
from cryptography.fernet import Fernet
from sqlmodel import Session, select

from kcc.callbacks.v1 import callbacks_pb2 as cb
from kcc.tenancy.v1 import tenancy_pb2 as tp
from kcc.tenancy.v1 import tenancy_pb2_grpc
from services import cli
from services.callbacks.cli import reencrypt_once
from services.callbacks.models import CallbackRow
from services.common import auth, client
from services.common.citizen import current_key, key_version
from services.common.config import Settings
from services.tenancy.app import TenancyApp
from tests.test_callbacks_kit import PHONE_E164, create, put_snapshots, running, settings_for, stub_for, tenant_snapshot
from tests.test_callbacks_kit import token as callbacks_token

pytestmark = pytest.mark.timeout(90)

OLD = "old:" + "o" * 40
NEW = "new:" + "n" * 40


async def _list_tenants(app: TenancyApp, bearer: str) -> grpc.StatusCode:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as channel:
        try:
            await tenancy_pb2_grpc.TenancyServiceStub(channel).ListTenants(
                tp.ListTenantsRequest(), metadata=client.metadata(bearer), timeout=5
            )
        except grpc.aio.AioRpcError as err:
            return err.code()
    return grpc.StatusCode.OK


async def _tenancy_with(settings: Settings, keys: str) -> TenancyApp:
    app = TenancyApp(dataclasses.replace(settings, auth_keys=keys))
    await app.start(0)
    return app


async def test_token_keys_rotate_without_downtime(
    tmp_path: Path, nats_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(data_dir=tmp_path / "var", nats_url=nats_url)
    admin = auth.Role.PLATFORM_ADMIN
    old_token = auth.issue_token(auth.KeyRing.of(dataclasses.replace(settings, auth_keys=OLD)), "ops", admin)
    assert jwt.get_unverified_header(old_token)["kid"] == "old"

    # 1. Every replica learns the new key (first, so it signs) and keeps the old one.
    app = await _tenancy_with(settings, f"{NEW},{OLD}")
    try:
        monkeypatch.setenv("KCC_AUTH_KEYS", f"{NEW},{OLD}")
        assert cli.main(["auth", "issue-token", "--subject", "ops", "--role", "platform_admin"]) == 0
        new_token = capsys.readouterr().out.strip()
        assert jwt.get_unverified_header(new_token)["kid"] == "new"
        assert await _list_tenants(app, old_token) == grpc.StatusCode.OK
        assert await _list_tenants(app, new_token) == grpc.StatusCode.OK
    finally:
        await app.stop(0.5)

    # 2. Once the old tokens are replaced, the old key goes: its tokens stop working, the new ones do not.
    app = await _tenancy_with(settings, NEW)
    try:
        assert await _list_tenants(app, old_token) == grpc.StatusCode.UNAUTHENTICATED
        assert await _list_tenants(app, new_token) == grpc.StatusCode.OK
        # A token signed with a dropped key cannot pass by naming a kept key, nor by naming none.
        claims = jwt.decode(old_token, options={"verify_signature": False})
        forged = jwt.encode(claims, "o" * 40, algorithm="HS256", headers={"kid": "new"})
        assert await _list_tenants(app, forged) == grpc.StatusCode.UNAUTHENTICATED
        unnamed = jwt.encode(claims, "n" * 40, algorithm="HS256")
        assert await _list_tenants(app, unnamed) == grpc.StatusCode.UNAUTHENTICATED
    finally:
        await app.stop(0.5)


async def test_personal_data_key_ring_and_reencrypt(
    tmp_path: Path, nats_url: str, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    key_a, key_b = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    base = settings_for(tmp_path, nats_url, database_url)
    await put_snapshots(base, tenant_snapshot())
    md = callbacks_token(base)
    before = dataclasses.replace(base, encryption_key=key_a, citizen_key_version="c1")
    async with running(before) as app, stub_for(app) as stub:
        old = await create(stub, md, note="graag na 14:00")
    assert key_version(old.citizen_key) == "c1" and old.citizen_key == current_key(before, PHONE_E164)

    # The new key first, the old one still there: old rows read, new rows use the new key.
    during = dataclasses.replace(base, encryption_key=f"{key_b},{key_a}", citizen_key_version="c2")
    async with running(during) as app, stub_for(app) as stub:
        got = await stub.GetCallback(cb.GetCallbackRequest(name=old.name), metadata=md)
        assert (got.phone_number, got.note) == (PHONE_E164, "graag na 14:00")
        new = await create(stub, md)
        assert key_version(new.citizen_key) == "c2" and new.citizen_key != old.citizen_key

        # Re-encrypting while the service runs: only the old row is rewritten, and only once.
        capsys.readouterr()
        assert await reencrypt_once(during) == 0
        assert json.loads(capsys.readouterr().out) == {"callbacks": 2, "reencrypted": 1}
        assert await reencrypt_once(during) == 0
        assert json.loads(capsys.readouterr().out) == {"callbacks": 2, "reencrypted": 0}
    rows = _rows(during)
    assert all(Fernet(key_b.encode()).decrypt(r.phone_encrypted.encode()) == PHONE_E164.encode() for r in rows)
    assert len(rows) == 2

    # The old key is gone: every row still reads.
    after = dataclasses.replace(base, encryption_key=key_b, citizen_key_version="c2")
    async with running(after) as app, stub_for(app) as stub:
        read = [await stub.GetCallback(cb.GetCallbackRequest(name=m.name), metadata=md) for m in (old, new)]
        assert [(r.phone_number, r.note) for r in read] == [(PHONE_E164, "graag na 14:00"), (PHONE_E164, "")]


def _rows(settings: Settings) -> list[CallbackRow]:
    from services.common.db import make_engine

    engine = make_engine(settings.database_url_for("callbacks"), "callbacks")
    try:
        with Session(engine) as session:
            return list(session.exec(select(CallbackRow)))
    finally:
        engine.dispose()


async def test_reencrypt_reports_what_it_moved(
    tmp_path: Path, nats_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    key_a, key_b = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    base = Settings(data_dir=tmp_path / "var", nats_url=nats_url)
    await put_snapshots(base, tenant_snapshot())
    md = callbacks_token(base)
    async with running(dataclasses.replace(base, encryption_key=key_a)) as app, stub_for(app) as stub:
        for n in range(3):
            await create(stub, md, request_id=f"r-{n}")
    capsys.readouterr()
    rotated = dataclasses.replace(base, encryption_key=f"{key_b},{key_a}")
    assert await reencrypt_once(rotated) == 0
    assert json.loads(capsys.readouterr().out) == {"callbacks": 3, "reencrypted": 3}
    assert await reencrypt_once(rotated) == 0
    assert json.loads(capsys.readouterr().out) == {"callbacks": 3, "reencrypted": 0}


async def test_reencrypt_without_a_configured_key_fails_at_once(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="KCC_ENCRYPTION_KEY is empty"):
        await reencrypt_once(Settings(data_dir=tmp_path / "var", encryption_key=""))
