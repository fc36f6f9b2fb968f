"""Who may manage which subscriptions, what bad input gets, and which URLs production refuses."""

from __future__ import annotations

import dataclasses
from typing import Any

import grpc
import pytest

from kcc.webhooks.v1 import webhooks_pb2 as pb
from kcc.webhooks.v1 import webhooks_pb2_grpc
from services.common import auth, client
from services.common.config import Settings
from services.common.errors import error_info, field_violations
from tests.webhooks_kit import ARNHEM, NIJMEGEN, SECRET, Metadata, rig, subscribe, webhooks_running

PRODUCTION_KEY = "a-production-token-key-of-forty-characters!"


def token(settings: Settings, role: auth.Role, tenants: list[str] | None = None) -> Metadata:
    return client.metadata(auth.issue_token(settings.auth_secret, f"{role}-caller", role, tenants))


async def code_of(call: object) -> tuple[grpc.StatusCode, str]:
    try:
        await call  # type: ignore[misc]
    except grpc.aio.AioRpcError as err:
        info = error_info(err)
        return err.code(), info.reason if info else ""
    return grpc.StatusCode.OK, ""


async def test_a_tenant_integration_manages_its_own_subscriptions_and_no_others(
    settings: Settings, admin: Metadata
) -> None:
    async with rig(settings) as r:
        arnhem = await subscribe(r.stub, admin, r.receiver.url, ["*"], tenant=ARNHEM)
        own = token(settings, auth.Role.TENANT_INTEGRATION, [NIJMEGEN])
        mine = await subscribe(r.stub, own, r.receiver.url, ["callback.*"])
        assert mine.state == pb.Subscription.STATE_ACTIVE

        listed = await r.stub.ListSubscriptions(pb.ListSubscriptionsRequest(parent=f"tenants/{NIJMEGEN}"), metadata=own)
        assert [s.name for s in listed.subscriptions] == [mine.name]
        assert all(not s.secret and all(not h.value for h in s.headers) for s in listed.subscriptions)

        stub = r.stub
        denied = {
            "create": stub.CreateSubscription(
                pb.CreateSubscriptionRequest(
                    parent=f"tenants/{ARNHEM}",
                    subscription=pb.Subscription(url=r.receiver.url, secret=SECRET),
                ),
                metadata=own,
            ),
            "get": stub.GetSubscription(pb.GetSubscriptionRequest(name=arnhem.name), metadata=own),
            "list": stub.ListSubscriptions(pb.ListSubscriptionsRequest(parent=f"tenants/{ARNHEM}"), metadata=own),
            "pause": stub.PauseSubscription(pb.PauseSubscriptionRequest(name=arnhem.name), metadata=own),
            "delete": stub.DeleteSubscription(pb.DeleteSubscriptionRequest(name=arnhem.name), metadata=own),
            "replay": stub.ReplaySubscription(
                pb.ReplaySubscriptionRequest(name=arnhem.name, start_sequence=1), metadata=own
            ),
            "dead letters": stub.ListDeadLetters(pb.ListDeadLettersRequest(parent=arnhem.name), metadata=own),
            "redeliver": stub.RedeliverDeadLetters(pb.RedeliverDeadLettersRequest(parent=arnhem.name), metadata=own),
            # a guessed name under the other tenant answers the same as a real one
            "guess": stub.GetSubscription(
                pb.GetSubscriptionRequest(name=f"tenants/{ARNHEM}/subscriptions/nope"), metadata=own
            ),
        }
        for what, call in denied.items():
            assert await code_of(call) == (grpc.StatusCode.PERMISSION_DENIED, "PERMISSION_DENIED"), what

        for role in (auth.Role.AGENT, auth.Role.DEPARTMENT_USER):
            md = token(settings, role, [NIJMEGEN])
            got = await code_of(stub.GetSubscription(pb.GetSubscriptionRequest(name=mine.name), metadata=md))
            assert got[0] == grpc.StatusCode.PERMISSION_DENIED, role

        await stub.DeleteSubscription(pb.DeleteSubscriptionRequest(name=mine.name), metadata=own)
        gone = await code_of(stub.GetSubscription(pb.GetSubscriptionRequest(name=mine.name), metadata=own))
        assert gone == (grpc.StatusCode.NOT_FOUND, "NOT_FOUND")
        # Arnhem's is untouched by all of it
        still = await stub.GetSubscription(pb.GetSubscriptionRequest(name=arnhem.name), metadata=admin)
        assert still.state == pb.Subscription.STATE_ACTIVE


async def test_bad_input_gets_a_clear_error_and_a_retry_the_same_subscription(
    settings: Settings, admin: Metadata
) -> None:
    async with rig(settings) as r:

        def create(subscription_id: str = "crm", request_id: str = "r-1", **fields: object) -> Any:
            subscription = pb.Subscription(url=r.receiver.url, secret=SECRET, event_types=["callback.*"])
            for name, value in fields.items():
                if isinstance(value, list):
                    del getattr(subscription, name)[:]
                    getattr(subscription, name).extend(value)
                else:
                    setattr(subscription, name, value)
            return r.stub.CreateSubscription(
                pb.CreateSubscriptionRequest(
                    parent=f"tenants/{NIJMEGEN}",
                    subscription_id=subscription_id,
                    subscription=subscription,
                    request_id=request_id,
                ),
                metadata=admin,
            )

        first = await create()
        assert await create() == first  # the same request again
        assert await code_of(create(request_id="r-2")) == (grpc.StatusCode.ALREADY_EXISTS, "ALREADY_EXISTS")

        invalid = grpc.StatusCode.INVALID_ARGUMENT
        cases = {
            "subscription.event_types[1]": create("a", event_types=["callback.*", "callback.>"]),
            "subscription.secret": create("b", secret="short"),
            "subscription.url": create("c", url="http://partner.example.nl/hook"),  # http off loopback
            "subscription.headers[0].key": create("d", headers=[pb.Header(key="webhook-signature", value="x")]),
            "subscription_id": create("Not_Valid"),
        }
        for field, call in cases.items():
            try:
                await call  # type: ignore[misc]
            except grpc.aio.AioRpcError as err:
                assert err.code() == invalid, field
                assert field in field_violations(err), (field, field_violations(err))
            else:
                pytest.fail(f"{field}: accepted")
        no_start = r.stub.ReplaySubscription(pb.ReplaySubscriptionRequest(name=first.name), metadata=admin)
        assert (await code_of(no_start))[0] == invalid


async def test_production_refuses_loopback_private_and_plain_http_urls(settings: Settings, admin: Metadata) -> None:
    production = dataclasses.replace(settings, env="production", auth_secret=PRODUCTION_KEY)
    md = token(production, auth.Role.PLATFORM_ADMIN)
    async with (
        webhooks_running(production) as app,
        grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as channel,
    ):
        stub = webhooks_pb2_grpc.WebhookServiceStub(channel)

        def create(url: str) -> Any:
            return stub.CreateSubscription(
                pb.CreateSubscriptionRequest(
                    parent=f"tenants/{NIJMEGEN}",
                    # paused: the accepted one must not be posted to from a test
                    subscription=pb.Subscription(url=url, secret=SECRET, state=pb.Subscription.STATE_PAUSED),
                ),
                metadata=md,
            )

        for url in (
            "https://127.0.0.1/hook",
            "https://localhost:8443/hook",
            "https://10.0.0.7/hook",
            "https://192.168.1.20/hook",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/hook",
            "https://[::ffff:10.0.0.1]/hook",
            "https://100.64.0.1/hook",
            "http://93.184.216.34/hook",  # public, but not https
            "https://user:pw@93.184.216.34/hook",
        ):
            assert await code_of(create(url)) == (grpc.StatusCode.INVALID_ARGUMENT, "URL_REFUSED"), url
        accepted = await create("https://93.184.216.34/hook")
        assert accepted.state == pb.Subscription.STATE_PAUSED
