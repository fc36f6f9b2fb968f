import datetime

from google.protobuf import empty_pb2 as _empty_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from kcc.common.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Tenant(_message.Message):
    __slots__ = ("name", "display_name", "state", "create_time", "update_time", "retention_days")
    class State(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STATE_UNSPECIFIED: _ClassVar[Tenant.State]
        STATE_ONBOARDING: _ClassVar[Tenant.State]
        STATE_ACTIVE: _ClassVar[Tenant.State]
        STATE_SUSPENDED: _ClassVar[Tenant.State]
    STATE_UNSPECIFIED: Tenant.State
    STATE_ONBOARDING: Tenant.State
    STATE_ACTIVE: Tenant.State
    STATE_SUSPENDED: Tenant.State
    NAME_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    RETENTION_DAYS_FIELD_NUMBER: _ClassVar[int]
    name: str
    display_name: str
    state: Tenant.State
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    retention_days: int
    def __init__(self, name: _Optional[str] = ..., display_name: _Optional[str] = ..., state: _Optional[_Union[Tenant.State, str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., retention_days: _Optional[int] = ...) -> None: ...

class CreateTenantRequest(_message.Message):
    __slots__ = ("tenant_id", "tenant", "request_id")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    tenant: Tenant
    request_id: str
    def __init__(self, tenant_id: _Optional[str] = ..., tenant: _Optional[_Union[Tenant, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class GetTenantRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ListTenantsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "filter")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    filter: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., filter: _Optional[str] = ...) -> None: ...

class ListTenantsResponse(_message.Message):
    __slots__ = ("tenants", "next_page_token", "total_size")
    TENANTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    tenants: _containers.RepeatedCompositeFieldContainer[Tenant]
    next_page_token: str
    total_size: int
    def __init__(self, tenants: _Optional[_Iterable[_Union[Tenant, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total_size: _Optional[int] = ...) -> None: ...

class UpdateTenantRequest(_message.Message):
    __slots__ = ("tenant", "update_mask")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    tenant: Tenant
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, tenant: _Optional[_Union[Tenant, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class DeleteTenantRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class EntryPoint(_message.Message):
    __slots__ = ("name", "kind", "value")
    class Kind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        KIND_UNSPECIFIED: _ClassVar[EntryPoint.Kind]
        KIND_PHONE_NUMBER: _ClassVar[EntryPoint.Kind]
        KIND_WEB_FORM_ORIGIN: _ClassVar[EntryPoint.Kind]
        KIND_CHAT_WIDGET: _ClassVar[EntryPoint.Kind]
    KIND_UNSPECIFIED: EntryPoint.Kind
    KIND_PHONE_NUMBER: EntryPoint.Kind
    KIND_WEB_FORM_ORIGIN: EntryPoint.Kind
    KIND_CHAT_WIDGET: EntryPoint.Kind
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    name: str
    kind: EntryPoint.Kind
    value: str
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[_Union[EntryPoint.Kind, str]] = ..., value: _Optional[str] = ...) -> None: ...

class CreateEntryPointRequest(_message.Message):
    __slots__ = ("parent", "entry_point_id", "entry_point", "request_id")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    ENTRY_POINT_ID_FIELD_NUMBER: _ClassVar[int]
    ENTRY_POINT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    parent: str
    entry_point_id: str
    entry_point: EntryPoint
    request_id: str
    def __init__(self, parent: _Optional[str] = ..., entry_point_id: _Optional[str] = ..., entry_point: _Optional[_Union[EntryPoint, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class ListEntryPointsRequest(_message.Message):
    __slots__ = ("parent", "page_size", "page_token")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    parent: str
    page_size: int
    page_token: str
    def __init__(self, parent: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListEntryPointsResponse(_message.Message):
    __slots__ = ("entry_points", "next_page_token")
    ENTRY_POINTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    entry_points: _containers.RepeatedCompositeFieldContainer[EntryPoint]
    next_page_token: str
    def __init__(self, entry_points: _Optional[_Iterable[_Union[EntryPoint, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DeleteEntryPointRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ResolveEntryPointRequest(_message.Message):
    __slots__ = ("kind", "value")
    KIND_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    kind: EntryPoint.Kind
    value: str
    def __init__(self, kind: _Optional[_Union[EntryPoint.Kind, str]] = ..., value: _Optional[str] = ...) -> None: ...

class Department(_message.Message):
    __slots__ = ("name", "display_name", "fallback", "create_time", "update_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    FALLBACK_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    display_name: str
    fallback: bool
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., display_name: _Optional[str] = ..., fallback: _Optional[bool] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateDepartmentRequest(_message.Message):
    __slots__ = ("parent", "department_id", "department", "request_id")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    DEPARTMENT_ID_FIELD_NUMBER: _ClassVar[int]
    DEPARTMENT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    parent: str
    department_id: str
    department: Department
    request_id: str
    def __init__(self, parent: _Optional[str] = ..., department_id: _Optional[str] = ..., department: _Optional[_Union[Department, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class GetDepartmentRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ListDepartmentsRequest(_message.Message):
    __slots__ = ("parent", "page_size", "page_token")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    parent: str
    page_size: int
    page_token: str
    def __init__(self, parent: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListDepartmentsResponse(_message.Message):
    __slots__ = ("departments", "next_page_token")
    DEPARTMENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    departments: _containers.RepeatedCompositeFieldContainer[Department]
    next_page_token: str
    def __init__(self, departments: _Optional[_Iterable[_Union[Department, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateDepartmentRequest(_message.Message):
    __slots__ = ("department", "update_mask")
    DEPARTMENT_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    department: Department
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, department: _Optional[_Union[Department, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class DeleteDepartmentRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class Product(_message.Message):
    __slots__ = ("name", "upl_uri", "display_name", "department", "handling", "synonyms", "ivr_codes", "enabled", "update_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    UPL_URI_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    DEPARTMENT_FIELD_NUMBER: _ClassVar[int]
    HANDLING_FIELD_NUMBER: _ClassVar[int]
    SYNONYMS_FIELD_NUMBER: _ClassVar[int]
    IVR_CODES_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    upl_uri: str
    display_name: str
    department: str
    handling: _common_pb2.Handling
    synonyms: _containers.RepeatedScalarFieldContainer[str]
    ivr_codes: _containers.RepeatedScalarFieldContainer[str]
    enabled: bool
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., upl_uri: _Optional[str] = ..., display_name: _Optional[str] = ..., department: _Optional[str] = ..., handling: _Optional[_Union[_common_pb2.Handling, str]] = ..., synonyms: _Optional[_Iterable[str]] = ..., ivr_codes: _Optional[_Iterable[str]] = ..., enabled: _Optional[bool] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateProductRequest(_message.Message):
    __slots__ = ("parent", "product_id", "product", "request_id")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_ID_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    parent: str
    product_id: str
    product: Product
    request_id: str
    def __init__(self, parent: _Optional[str] = ..., product_id: _Optional[str] = ..., product: _Optional[_Union[Product, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class GetProductRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ListProductsRequest(_message.Message):
    __slots__ = ("parent", "page_size", "page_token", "filter")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    parent: str
    page_size: int
    page_token: str
    filter: str
    def __init__(self, parent: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., filter: _Optional[str] = ...) -> None: ...

class ListProductsResponse(_message.Message):
    __slots__ = ("products", "next_page_token", "total_size")
    PRODUCTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    products: _containers.RepeatedCompositeFieldContainer[Product]
    next_page_token: str
    total_size: int
    def __init__(self, products: _Optional[_Iterable[_Union[Product, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total_size: _Optional[int] = ...) -> None: ...

class UpdateProductRequest(_message.Message):
    __slots__ = ("product", "update_mask")
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    product: Product
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, product: _Optional[_Union[Product, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class DeleteProductRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ProductLexicon(_message.Message):
    __slots__ = ("name", "default_version", "default_phrases", "added", "suppressed", "phrases")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_VERSION_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_PHRASES_FIELD_NUMBER: _ClassVar[int]
    ADDED_FIELD_NUMBER: _ClassVar[int]
    SUPPRESSED_FIELD_NUMBER: _ClassVar[int]
    PHRASES_FIELD_NUMBER: _ClassVar[int]
    name: str
    default_version: str
    default_phrases: _containers.RepeatedScalarFieldContainer[str]
    added: _containers.RepeatedScalarFieldContainer[str]
    suppressed: _containers.RepeatedScalarFieldContainer[str]
    phrases: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., default_version: _Optional[str] = ..., default_phrases: _Optional[_Iterable[str]] = ..., added: _Optional[_Iterable[str]] = ..., suppressed: _Optional[_Iterable[str]] = ..., phrases: _Optional[_Iterable[str]] = ...) -> None: ...

class GetProductLexiconRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class UpdateProductLexiconRequest(_message.Message):
    __slots__ = ("name", "add", "suppress", "reset")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ADD_FIELD_NUMBER: _ClassVar[int]
    SUPPRESS_FIELD_NUMBER: _ClassVar[int]
    RESET_FIELD_NUMBER: _ClassVar[int]
    name: str
    add: _containers.RepeatedScalarFieldContainer[str]
    suppress: _containers.RepeatedScalarFieldContainer[str]
    reset: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., add: _Optional[_Iterable[str]] = ..., suppress: _Optional[_Iterable[str]] = ..., reset: _Optional[_Iterable[str]] = ...) -> None: ...

class ListLexiconSuggestionsRequest(_message.Message):
    __slots__ = ("parent", "page_size")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    parent: str
    page_size: int
    def __init__(self, parent: _Optional[str] = ..., page_size: _Optional[int] = ...) -> None: ...

class LexiconSuggestion(_message.Message):
    __slots__ = ("lexicon", "phrase", "misses", "elsewhere")
    LEXICON_FIELD_NUMBER: _ClassVar[int]
    PHRASE_FIELD_NUMBER: _ClassVar[int]
    MISSES_FIELD_NUMBER: _ClassVar[int]
    ELSEWHERE_FIELD_NUMBER: _ClassVar[int]
    lexicon: str
    phrase: str
    misses: int
    elsewhere: int
    def __init__(self, lexicon: _Optional[str] = ..., phrase: _Optional[str] = ..., misses: _Optional[int] = ..., elsewhere: _Optional[int] = ...) -> None: ...

class ListLexiconSuggestionsResponse(_message.Message):
    __slots__ = ("suggestions",)
    SUGGESTIONS_FIELD_NUMBER: _ClassVar[int]
    suggestions: _containers.RepeatedCompositeFieldContainer[LexiconSuggestion]
    def __init__(self, suggestions: _Optional[_Iterable[_Union[LexiconSuggestion, _Mapping]]] = ...) -> None: ...

class GetRecognitionAccuracyRequest(_message.Message):
    __slots__ = ("tenant", "weeks")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    WEEKS_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    weeks: int
    def __init__(self, tenant: _Optional[str] = ..., weeks: _Optional[int] = ...) -> None: ...

class RecognitionAccuracy(_message.Message):
    __slots__ = ("tenant", "weeks")
    class Week(_message.Message):
        __slots__ = ("week", "checked", "confirmed", "accuracy")
        WEEK_FIELD_NUMBER: _ClassVar[int]
        CHECKED_FIELD_NUMBER: _ClassVar[int]
        CONFIRMED_FIELD_NUMBER: _ClassVar[int]
        ACCURACY_FIELD_NUMBER: _ClassVar[int]
        week: str
        checked: int
        confirmed: int
        accuracy: float
        def __init__(self, week: _Optional[str] = ..., checked: _Optional[int] = ..., confirmed: _Optional[int] = ..., accuracy: _Optional[float] = ...) -> None: ...
    TENANT_FIELD_NUMBER: _ClassVar[int]
    WEEKS_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    weeks: _containers.RepeatedCompositeFieldContainer[RecognitionAccuracy.Week]
    def __init__(self, tenant: _Optional[str] = ..., weeks: _Optional[_Iterable[_Union[RecognitionAccuracy.Week, _Mapping]]] = ...) -> None: ...

class UplRow(_message.Message):
    __slots__ = ("line", "name", "uri")
    LINE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    URI_FIELD_NUMBER: _ClassVar[int]
    line: int
    name: str
    uri: str
    def __init__(self, line: _Optional[int] = ..., name: _Optional[str] = ..., uri: _Optional[str] = ...) -> None: ...

class ImportUplProductsRequest(_message.Message):
    __slots__ = ("parent", "rows", "default_department")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_DEPARTMENT_FIELD_NUMBER: _ClassVar[int]
    parent: str
    rows: _containers.RepeatedCompositeFieldContainer[UplRow]
    default_department: str
    def __init__(self, parent: _Optional[str] = ..., rows: _Optional[_Iterable[_Union[UplRow, _Mapping]]] = ..., default_department: _Optional[str] = ...) -> None: ...

class ImportUplProductsResponse(_message.Message):
    __slots__ = ("created", "updated", "unchanged")
    CREATED_FIELD_NUMBER: _ClassVar[int]
    UPDATED_FIELD_NUMBER: _ClassVar[int]
    UNCHANGED_FIELD_NUMBER: _ClassVar[int]
    created: int
    updated: int
    unchanged: int
    def __init__(self, created: _Optional[int] = ..., updated: _Optional[int] = ..., unchanged: _Optional[int] = ...) -> None: ...

class OnboardTenantRequest(_message.Message):
    __slots__ = ("tenant_id", "tenant", "departments", "rows", "entry_points")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    DEPARTMENTS_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    ENTRY_POINTS_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    tenant: Tenant
    departments: _containers.RepeatedCompositeFieldContainer[Department]
    rows: _containers.RepeatedCompositeFieldContainer[UplRow]
    entry_points: _containers.RepeatedCompositeFieldContainer[EntryPoint]
    def __init__(self, tenant_id: _Optional[str] = ..., tenant: _Optional[_Union[Tenant, _Mapping]] = ..., departments: _Optional[_Iterable[_Union[Department, _Mapping]]] = ..., rows: _Optional[_Iterable[_Union[UplRow, _Mapping]]] = ..., entry_points: _Optional[_Iterable[_Union[EntryPoint, _Mapping]]] = ...) -> None: ...

class OnboardTenantResponse(_message.Message):
    __slots__ = ("tenant", "tenant_created", "tenant_renamed", "departments_created", "products", "entry_points_created")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    TENANT_CREATED_FIELD_NUMBER: _ClassVar[int]
    TENANT_RENAMED_FIELD_NUMBER: _ClassVar[int]
    DEPARTMENTS_CREATED_FIELD_NUMBER: _ClassVar[int]
    PRODUCTS_FIELD_NUMBER: _ClassVar[int]
    ENTRY_POINTS_CREATED_FIELD_NUMBER: _ClassVar[int]
    tenant: Tenant
    tenant_created: bool
    tenant_renamed: bool
    departments_created: _containers.RepeatedScalarFieldContainer[str]
    products: ImportUplProductsResponse
    entry_points_created: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, tenant: _Optional[_Union[Tenant, _Mapping]] = ..., tenant_created: _Optional[bool] = ..., tenant_renamed: _Optional[bool] = ..., departments_created: _Optional[_Iterable[str]] = ..., products: _Optional[_Union[ImportUplProductsResponse, _Mapping]] = ..., entry_points_created: _Optional[_Iterable[str]] = ...) -> None: ...

class SlaPolicy(_message.Message):
    __slots__ = ("name", "channel", "department", "product", "answer_target", "callback_working_hours", "callback_working_days", "warning_percent", "max_callback_attempts", "escalation_target")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    DEPARTMENT_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    ANSWER_TARGET_FIELD_NUMBER: _ClassVar[int]
    CALLBACK_WORKING_HOURS_FIELD_NUMBER: _ClassVar[int]
    CALLBACK_WORKING_DAYS_FIELD_NUMBER: _ClassVar[int]
    WARNING_PERCENT_FIELD_NUMBER: _ClassVar[int]
    MAX_CALLBACK_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    ESCALATION_TARGET_FIELD_NUMBER: _ClassVar[int]
    name: str
    channel: _common_pb2.Channel
    department: str
    product: str
    answer_target: _common_pb2.ServiceLevelTarget
    callback_working_hours: int
    callback_working_days: int
    warning_percent: int
    max_callback_attempts: int
    escalation_target: str
    def __init__(self, name: _Optional[str] = ..., channel: _Optional[_Union[_common_pb2.Channel, str]] = ..., department: _Optional[str] = ..., product: _Optional[str] = ..., answer_target: _Optional[_Union[_common_pb2.ServiceLevelTarget, _Mapping]] = ..., callback_working_hours: _Optional[int] = ..., callback_working_days: _Optional[int] = ..., warning_percent: _Optional[int] = ..., max_callback_attempts: _Optional[int] = ..., escalation_target: _Optional[str] = ...) -> None: ...

class CreateSlaPolicyRequest(_message.Message):
    __slots__ = ("parent", "sla_policy_id", "sla_policy", "request_id")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    SLA_POLICY_ID_FIELD_NUMBER: _ClassVar[int]
    SLA_POLICY_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    parent: str
    sla_policy_id: str
    sla_policy: SlaPolicy
    request_id: str
    def __init__(self, parent: _Optional[str] = ..., sla_policy_id: _Optional[str] = ..., sla_policy: _Optional[_Union[SlaPolicy, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class GetSlaPolicyRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ListSlaPoliciesRequest(_message.Message):
    __slots__ = ("parent", "page_size", "page_token")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    parent: str
    page_size: int
    page_token: str
    def __init__(self, parent: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListSlaPoliciesResponse(_message.Message):
    __slots__ = ("sla_policies", "next_page_token")
    SLA_POLICIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    sla_policies: _containers.RepeatedCompositeFieldContainer[SlaPolicy]
    next_page_token: str
    def __init__(self, sla_policies: _Optional[_Iterable[_Union[SlaPolicy, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateSlaPolicyRequest(_message.Message):
    __slots__ = ("sla_policy", "update_mask")
    SLA_POLICY_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    sla_policy: SlaPolicy
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, sla_policy: _Optional[_Union[SlaPolicy, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class DeleteSlaPolicyRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class OpeningPeriod(_message.Message):
    __slots__ = ("start", "end")
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    start: str
    end: str
    def __init__(self, start: _Optional[str] = ..., end: _Optional[str] = ...) -> None: ...

class WeekdayHours(_message.Message):
    __slots__ = ("iso_weekday", "periods")
    ISO_WEEKDAY_FIELD_NUMBER: _ClassVar[int]
    PERIODS_FIELD_NUMBER: _ClassVar[int]
    iso_weekday: int
    periods: _containers.RepeatedCompositeFieldContainer[OpeningPeriod]
    def __init__(self, iso_weekday: _Optional[int] = ..., periods: _Optional[_Iterable[_Union[OpeningPeriod, _Mapping]]] = ...) -> None: ...

class SpecialDay(_message.Message):
    __slots__ = ("date", "periods", "reason")
    DATE_FIELD_NUMBER: _ClassVar[int]
    PERIODS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    date: str
    periods: _containers.RepeatedCompositeFieldContainer[OpeningPeriod]
    reason: str
    def __init__(self, date: _Optional[str] = ..., periods: _Optional[_Iterable[_Union[OpeningPeriod, _Mapping]]] = ..., reason: _Optional[str] = ...) -> None: ...

class BusinessCalendar(_message.Message):
    __slots__ = ("name", "time_zone", "weekly_hours", "special_days", "observe_public_holidays")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    WEEKLY_HOURS_FIELD_NUMBER: _ClassVar[int]
    SPECIAL_DAYS_FIELD_NUMBER: _ClassVar[int]
    OBSERVE_PUBLIC_HOLIDAYS_FIELD_NUMBER: _ClassVar[int]
    name: str
    time_zone: str
    weekly_hours: _containers.RepeatedCompositeFieldContainer[WeekdayHours]
    special_days: _containers.RepeatedCompositeFieldContainer[SpecialDay]
    observe_public_holidays: bool
    def __init__(self, name: _Optional[str] = ..., time_zone: _Optional[str] = ..., weekly_hours: _Optional[_Iterable[_Union[WeekdayHours, _Mapping]]] = ..., special_days: _Optional[_Iterable[_Union[SpecialDay, _Mapping]]] = ..., observe_public_holidays: _Optional[bool] = ...) -> None: ...

class GetBusinessCalendarRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class UpdateBusinessCalendarRequest(_message.Message):
    __slots__ = ("business_calendar", "update_mask")
    BUSINESS_CALENDAR_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    business_calendar: BusinessCalendar
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, business_calendar: _Optional[_Union[BusinessCalendar, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...
