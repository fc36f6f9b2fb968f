"""The webhooks process: the subscription API and the dispatcher, on JetStream alone (no database).

Run two or more: any replica answers the API, and each subscription is delivered by whichever
replica holds its lease (services/webhooks/dispatcher.py).
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable

import grpc
from opentelemetry.metrics import CallbackOptions, Meter, Observation

from kcc.webhooks.v1 import webhooks_pb2 as pb
from kcc.webhooks.v1 import webhooks_pb2_grpc
from services.common import telemetry
from services.common.app import Loop, ServiceApp
from services.common.config import Settings
from services.webhooks.delivery import Policy, Poster
from services.webhooks.dispatcher import Dispatcher, Held
from services.webhooks.figures import epoch
from services.webhooks.service import WebhookService
from services.webhooks.store import DEAD_LETTERS, LEASES, STATE, SUBSCRIPTIONS, Store


class WebhooksApp(ServiceApp):
    name = "webhooks"
    uses_database = False
    service_names = (pb.DESCRIPTOR.services_by_name["WebhookService"].full_name,)

    def __init__(self, settings: Settings | None = None, policy: Policy | None = None) -> None:
        super().__init__(settings)
        self.policy = policy or Policy.from_env()
        self.instance = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"

    async def prepare(self) -> list[Loop]:
        production = self.settings.env == "production"
        self.store = Store(
            self.bus.js,
            await self.bus.key_value(SUBSCRIPTIONS),
            await self.bus.key_value(STATE),
            await self.bus.key_value(DEAD_LETTERS),
            self.policy.ack_wait_seconds,
        )
        self.poster = Poster(self.policy, production)
        self.dispatcher = Dispatcher(
            self.bus, self.store, await self.bus.key_value(LEASES), self.poster, self.policy, self.instance
        )
        self.servicer = WebhookService(self.store, production, time.time)
        self.register_gauges(telemetry.meter("kcc.webhooks"))
        return [self.dispatcher.run]

    def register(self, server: grpc.aio.Server) -> None:
        webhooks_pb2_grpc.add_WebhookServiceServicer_to_server(self.servicer, server)

    async def stop(self, grace: float = 3.0) -> None:
        await super().stop(grace)  # the dispatcher gives its in-flight events back and its leases up
        await self.poster.close()

    def register_gauges(self, meter: Meter) -> None:
        """Figures of the subscriptions this replica delivers, labelled by tenant and subscription id
        only; summed over the replicas they cover every subscription once."""

        def gauge(read: Callable[[Held], float]) -> Callable[[CallbackOptions], list[Observation]]:
            def observe(_options: CallbackOptions) -> list[Observation]:
                return [
                    Observation(read(held), {"tenant": k.split(".")[0], "subscription": k.split(".", 1)[1]})
                    for k, held in list(self.dispatcher.held.items())
                ]

            return observe

        def oldest(held: Held) -> float:
            head = held.state.head_time
            return max(0.0, time.time() - epoch(head)) if head and held.state.head_sequence else 0.0

        for key, read, unit in (
            ("delivered", lambda h: float(h.state.delivered), "{event}"),
            ("retrying", lambda h: float(1 if h.state.head_attempts else 0), "{event}"),
            ("parked", lambda h: float(h.state.parked), "{event}"),
            ("pending", lambda h: float(h.pending), "{event}"),
            ("oldest_undelivered_age", oldest, "s"),
        ):
            meter.create_observable_gauge(f"kcc.webhooks.{key}", callbacks=[gauge(read)], unit=unit)
