"""The wallboard's feed read from real tenancy and callbacks services, without a browser."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import grpc
import pytest

from kcc.callbacks.v1 import callbacks_pb2 as cb
from kcc.callbacks.v1 import callbacks_pb2_grpc
from kcc.common.v1 import common_pb2
from services.callbacks.app import CallbacksApp
from services.common.app import ServiceApp
from services.common.config import Settings
from services.tenancy.app import TenancyApp
from services.wallboard.feed import Feed
from tests.builders import Metadata, eventually, make_tenant

JUST_AFTER_MIDNIGHT = datetime(2026, 12, 3, 23, 30, tzinfo=UTC)  # 00:30 on 4 December in Nijmegen


async def test_a_callback_filed_just_after_the_gemeentes_midnight_counts_in_its_accountability(
    settings: Settings,
    tenancy: TenancyApp,
    admin: Metadata,
    channel_to: Callable[[ServiceApp], grpc.aio.Channel],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The last 30 days are the gemeente's own: at 00:30 its today is not yet UTC's."""
    callbacks = CallbacksApp(settings, clock=lambda: JUST_AFTER_MIDNIGHT)
    await callbacks.start(0)
    for name, app in (("TENANCY", tenancy), ("CALLBACKS", callbacks)):
        monkeypatch.setenv(f"KCC_{name}_TARGET", f"127.0.0.1:{app.port}")
    feed = Feed(settings, clock=lambda: JUST_AFTER_MIDNIGHT)
    try:
        await make_tenant(channel_to(tenancy), admin, "gm0268", "Nijmegen", [("paspoort", "paspoort", "burgerzaken")])
        await eventually(lambda: callbacks.snapshots.get("gm0268") is not None)
        await callbacks_pb2_grpc.CallbackServiceStub(channel_to(callbacks)).CreateCallback(
            cb.CreateCallbackRequest(
                parent="tenants/gm0268",
                callback=cb.Callback(
                    department="tenants/gm0268/departments/burgerzaken",
                    phone_number="+31612345678",
                    channel=common_pb2.CHANNEL_PHONE,
                ),
            ),
            metadata=admin,
        )
        feed.start()
        await eventually(lambda: feed.board.callbacks.get("gm0268"))
        await eventually(lambda: "gm0268" in feed.board.accountability)
        (row,) = feed.board.accountability["gm0268"]
        assert (row["department"], row["requested"]) == ("tenants/gm0268/departments/burgerzaken", 1)
    finally:
        await feed.stop()
        await callbacks.stop()
