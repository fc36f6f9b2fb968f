"""Callbacks service over real gRPC, a real nats-server and a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from kcc.callbacks.v1 import callbacks_pb2 as cb
from tests.test_callbacks_kit import (
    BURGERZAKEN,
    NIJMEGEN,
    PHONE_E164,
    Clock,
    create,
    local,
    published,
    put_snapshots,
    reason,
    running,
    settings_for,
    stub_for,
    tenant_snapshot,
    token,
)


async def test_create_get_and_requested_event(tmp_path: Path, nats_url: str, database_url: str) -> None:
    settings = settings_for(tmp_path, nats_url, database_url)
    await put_snapshots(settings, tenant_snapshot())
    clock = Clock(local(2026, 3, 6, 16, 0))  # a Friday afternoon
    md = token(settings)
    async with running(settings, clock) as app, stub_for(app) as stub:
        made = await create(stub, md, request_id="r-1", note="wil graag na 14:00 gebeld worden")
        assert made.status == cb.Callback.STATUS_REQUESTED and made.phone_number == PHONE_E164
        # 8 working hours: Friday 16:00-17:00, then Monday 08:30 + 7 h
        assert made.deadline.ToDatetime().replace(tzinfo=None) == local(2026, 3, 9, 15, 30).astimezone(
            tz=None
        ).astimezone(__import__("datetime").UTC).replace(tzinfo=None)
        again = await create(stub, md, request_id="r-1")
        assert again.name == made.name
        got = await stub.GetCallback(cb.GetCallbackRequest(name=made.name), metadata=md)
        assert got.note == "wil graag na 14:00 gebeld worden" and got.citizen_key == made.citizen_key
        envs = await published(app.bus)
        assert [e.callback_changed.change for e in envs] == ["requested"]
        raw = envs[0].SerializeToString()
        assert b"612345678" not in raw and b"14:00" not in raw
        assert envs[0].callback_changed.status == "REQUESTED"
        assert envs[0].callback_changed.department == BURGERZAKEN
        with pytest.raises(grpc.RpcError) as err:
            await create(stub, md, department=f"tenants/{NIJMEGEN}/departments/nope")
        assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION and reason(err.value) == "DEPARTMENT_UNKNOWN"
