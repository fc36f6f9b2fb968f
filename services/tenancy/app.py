"""The tenancy process."""

from __future__ import annotations

import grpc

from kcc.tenancy.v1 import tenancy_pb2, tenancy_pb2_grpc
from services.common.app import Loop, ServiceApp
from services.tenancy import corrections, models
from services.tenancy.service import TenancyService
from services.tenancy.snapshots import SnapshotPublisher

# A change is answered once its snapshot is in the bucket; while NATS is away, after this long
# (the change is stored and its snapshot written when NATS is back).
SNAPSHOT_WAIT_SECONDS = 2.0


class TenancyApp(ServiceApp):
    name = "tenancy"
    tables = (
        models.TenantRow,
        models.EntryPointRow,
        models.DepartmentRow,
        models.ProductRow,
        models.LexiconPhraseRow,
        models.LexiconCorrectionRow,
        models.LexiconWordRow,
        models.SlaPolicyRow,
        models.CalendarRow,
        models.CreateRequestRow,
        models.IdempotentCreateRow,
    )
    service_names = (tenancy_pb2.DESCRIPTOR.services_by_name["TenancyService"].full_name,)

    async def prepare(self) -> list[Loop]:
        self.snapshots = SnapshotPublisher(self.db, self.bus)
        await self.snapshots.republish_all()
        # agents' corrections of recognition; unknown words hashed with the key of routing's question hash
        self.corrections = corrections.consumer(self.bus, self.db, self.settings.question_key_secret)
        return [self.snapshots.run, self.corrections.run]

    def register(self, server: grpc.aio.Server) -> None:
        async def on_commit(tenants: set[str]) -> None:
            self.outbox.wake()
            await self.snapshots.publish(tenants, SNAPSHOT_WAIT_SECONDS)

        tenancy_pb2_grpc.add_TenancyServiceServicer_to_server(TenancyService(self.db, on_commit), server)
