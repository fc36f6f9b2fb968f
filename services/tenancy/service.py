"""TenancyService: the gRPC handlers, each handing its request to the module of its resource.

Each write commits its rows and a `tenancy.changed` event together (outbox, changes.py);
after the commit the snapshot publisher compiles the tenant's snapshot into JetStream KV.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from google.protobuf import empty_pb2

from kcc.tenancy.v1 import tenancy_pb2 as pb
from kcc.tenancy.v1 import tenancy_pb2_grpc
from services.common.db import Database
from services.tenancy import (
    calendars,
    corrections,
    departments,
    entry_points,
    lexicon,
    onboard,
    products,
    sla_policies,
    tenants,
)
from services.tenancy.store import Store

EMPTY = empty_pb2.Empty()


class TenancyService(tenancy_pb2_grpc.TenancyServiceServicer):
    def __init__(self, db: Database, on_commit: Callable[[set[str]], Awaitable[None]]) -> None:
        self.store = Store(db, on_commit)  # on_commit: tenants whose snapshot must be republished

    # Tenants
    async def CreateTenant(self, request: pb.CreateTenantRequest, context: Any) -> pb.Tenant:
        return await tenants.create(self.store, request)

    async def GetTenant(self, request: pb.GetTenantRequest, context: Any) -> pb.Tenant:
        return await tenants.get(self.store, request)

    async def ListTenants(self, request: pb.ListTenantsRequest, context: Any) -> pb.ListTenantsResponse:
        return await tenants.list_(self.store, request)

    async def UpdateTenant(self, request: pb.UpdateTenantRequest, context: Any) -> pb.Tenant:
        return await tenants.update(self.store, request)

    async def DeleteTenant(self, request: pb.DeleteTenantRequest, context: Any) -> empty_pb2.Empty:
        await tenants.delete(self.store, request)
        return EMPTY

    async def OnboardTenant(self, request: pb.OnboardTenantRequest, context: Any) -> pb.OnboardTenantResponse:
        return await onboard.onboard(self.store, request)

    # Entry points
    async def CreateEntryPoint(self, request: pb.CreateEntryPointRequest, context: Any) -> pb.EntryPoint:
        return await entry_points.create(self.store, request)

    async def ListEntryPoints(self, request: pb.ListEntryPointsRequest, context: Any) -> pb.ListEntryPointsResponse:
        return await entry_points.list_(self.store, request)

    async def DeleteEntryPoint(self, request: pb.DeleteEntryPointRequest, context: Any) -> empty_pb2.Empty:
        await entry_points.delete(self.store, request)
        return EMPTY

    async def ResolveEntryPoint(self, request: pb.ResolveEntryPointRequest, context: Any) -> pb.EntryPoint:
        return await entry_points.resolve(self.store, request)

    # Departments
    async def CreateDepartment(self, request: pb.CreateDepartmentRequest, context: Any) -> pb.Department:
        return await departments.create(self.store, request)

    async def GetDepartment(self, request: pb.GetDepartmentRequest, context: Any) -> pb.Department:
        return await departments.get(self.store, request)

    async def ListDepartments(self, request: pb.ListDepartmentsRequest, context: Any) -> pb.ListDepartmentsResponse:
        return await departments.list_(self.store, request)

    async def UpdateDepartment(self, request: pb.UpdateDepartmentRequest, context: Any) -> pb.Department:
        return await departments.update(self.store, request)

    async def DeleteDepartment(self, request: pb.DeleteDepartmentRequest, context: Any) -> empty_pb2.Empty:
        await departments.delete(self.store, request)
        return EMPTY

    # Products
    async def CreateProduct(self, request: pb.CreateProductRequest, context: Any) -> pb.Product:
        return await products.create(self.store, request)

    async def GetProduct(self, request: pb.GetProductRequest, context: Any) -> pb.Product:
        return await products.get(self.store, request)

    async def ListProducts(self, request: pb.ListProductsRequest, context: Any) -> pb.ListProductsResponse:
        return await products.list_(self.store, request)

    async def UpdateProduct(self, request: pb.UpdateProductRequest, context: Any) -> pb.Product:
        return await products.update(self.store, request)

    async def DeleteProduct(self, request: pb.DeleteProductRequest, context: Any) -> empty_pb2.Empty:
        await products.delete(self.store, request)
        return EMPTY

    async def ImportUplProducts(
        self, request: pb.ImportUplProductsRequest, context: Any
    ) -> pb.ImportUplProductsResponse:
        return await products.import_upl(self.store, request)

    # Lexicon
    async def GetProductLexicon(self, request: pb.GetProductLexiconRequest, context: Any) -> pb.ProductLexicon:
        return await lexicon.get(self.store, request)

    async def UpdateProductLexicon(self, request: pb.UpdateProductLexiconRequest, context: Any) -> pb.ProductLexicon:
        return await lexicon.update(self.store, request)

    async def ListLexiconSuggestions(
        self, request: pb.ListLexiconSuggestionsRequest, context: Any
    ) -> pb.ListLexiconSuggestionsResponse:
        return await corrections.suggestions(self.store, request)

    async def GetRecognitionAccuracy(
        self, request: pb.GetRecognitionAccuracyRequest, context: Any
    ) -> pb.RecognitionAccuracy:
        return await corrections.accuracy(self.store, request)

    # SLA policies
    async def CreateSlaPolicy(self, request: pb.CreateSlaPolicyRequest, context: Any) -> pb.SlaPolicy:
        return await sla_policies.create(self.store, request)

    async def GetSlaPolicy(self, request: pb.GetSlaPolicyRequest, context: Any) -> pb.SlaPolicy:
        return await sla_policies.get(self.store, request)

    async def ListSlaPolicies(self, request: pb.ListSlaPoliciesRequest, context: Any) -> pb.ListSlaPoliciesResponse:
        return await sla_policies.list_(self.store, request)

    async def UpdateSlaPolicy(self, request: pb.UpdateSlaPolicyRequest, context: Any) -> pb.SlaPolicy:
        return await sla_policies.update(self.store, request)

    async def DeleteSlaPolicy(self, request: pb.DeleteSlaPolicyRequest, context: Any) -> empty_pb2.Empty:
        await sla_policies.delete(self.store, request)
        return EMPTY

    # Business calendar
    async def GetBusinessCalendar(self, request: pb.GetBusinessCalendarRequest, context: Any) -> pb.BusinessCalendar:
        return await calendars.get(self.store, request)

    async def UpdateBusinessCalendar(
        self, request: pb.UpdateBusinessCalendarRequest, context: Any
    ) -> pb.BusinessCalendar:
        return await calendars.update(self.store, request)
