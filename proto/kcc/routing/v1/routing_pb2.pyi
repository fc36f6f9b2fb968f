import datetime

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

class RouteContactRequest(_message.Message):
    __slots__ = ("tenant", "entry_point", "channel", "product_uri", "ivr_code", "question", "citizen_key", "request_id", "language")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    ENTRY_POINT_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_URI_FIELD_NUMBER: _ClassVar[int]
    IVR_CODE_FIELD_NUMBER: _ClassVar[int]
    QUESTION_FIELD_NUMBER: _ClassVar[int]
    CITIZEN_KEY_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    entry_point: EntryPointRef
    channel: _common_pb2.Channel
    product_uri: str
    ivr_code: str
    question: str
    citizen_key: str
    request_id: str
    language: str
    def __init__(self, tenant: _Optional[str] = ..., entry_point: _Optional[_Union[EntryPointRef, _Mapping]] = ..., channel: _Optional[_Union[_common_pb2.Channel, str]] = ..., product_uri: _Optional[str] = ..., ivr_code: _Optional[str] = ..., question: _Optional[str] = ..., citizen_key: _Optional[str] = ..., request_id: _Optional[str] = ..., language: _Optional[str] = ...) -> None: ...

class EntryPointRef(_message.Message):
    __slots__ = ("kind", "value")
    KIND_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    kind: int
    value: str
    def __init__(self, kind: _Optional[int] = ..., value: _Optional[str] = ...) -> None: ...

class ProductCandidate(_message.Message):
    __slots__ = ("uri", "name", "score")
    URI_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    uri: str
    name: str
    score: float
    def __init__(self, uri: _Optional[str] = ..., name: _Optional[str] = ..., score: _Optional[float] = ...) -> None: ...

class OpenCallbackRef(_message.Message):
    __slots__ = ("callback", "department", "product_uri", "deadline", "status")
    CALLBACK_FIELD_NUMBER: _ClassVar[int]
    DEPARTMENT_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_URI_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    callback: str
    department: str
    product_uri: str
    deadline: _timestamp_pb2.Timestamp
    status: str
    def __init__(self, callback: _Optional[str] = ..., department: _Optional[str] = ..., product_uri: _Optional[str] = ..., deadline: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., status: _Optional[str] = ...) -> None: ...

class RouteContactResponse(_message.Message):
    __slots__ = ("contact", "candidates", "recognised", "scope", "referral")
    CONTACT_FIELD_NUMBER: _ClassVar[int]
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    RECOGNISED_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    REFERRAL_FIELD_NUMBER: _ClassVar[int]
    contact: Contact
    candidates: _containers.RepeatedCompositeFieldContainer[ProductCandidate]
    recognised: bool
    scope: str
    referral: Referral
    def __init__(self, contact: _Optional[_Union[Contact, _Mapping]] = ..., candidates: _Optional[_Iterable[_Union[ProductCandidate, _Mapping]]] = ..., recognised: _Optional[bool] = ..., scope: _Optional[str] = ..., referral: _Optional[_Union[Referral, _Mapping]] = ...) -> None: ...

class Referral(_message.Message):
    __slots__ = ("body", "phone", "website")
    BODY_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    WEBSITE_FIELD_NUMBER: _ClassVar[int]
    body: str
    phone: str
    website: str
    def __init__(self, body: _Optional[str] = ..., phone: _Optional[str] = ..., website: _Optional[str] = ...) -> None: ...

class Contact(_message.Message):
    __slots__ = ("name", "tenant", "channel", "product_uri", "product_name", "department", "queue", "priority", "service_level_target", "handling", "state", "enqueue_time", "agent", "overflowed", "open_callbacks", "outcome", "repeat_contact")
    class State(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STATE_UNSPECIFIED: _ClassVar[Contact.State]
        STATE_QUEUED: _ClassVar[Contact.State]
        STATE_OFFERED: _ClassVar[Contact.State]
        STATE_CONNECTED: _ClassVar[Contact.State]
        STATE_COMPLETED: _ClassVar[Contact.State]
        STATE_ABANDONED: _ClassVar[Contact.State]
    STATE_UNSPECIFIED: Contact.State
    STATE_QUEUED: Contact.State
    STATE_OFFERED: Contact.State
    STATE_CONNECTED: Contact.State
    STATE_COMPLETED: Contact.State
    STATE_ABANDONED: Contact.State
    NAME_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_URI_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_NAME_FIELD_NUMBER: _ClassVar[int]
    DEPARTMENT_FIELD_NUMBER: _ClassVar[int]
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    SERVICE_LEVEL_TARGET_FIELD_NUMBER: _ClassVar[int]
    HANDLING_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ENQUEUE_TIME_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    OVERFLOWED_FIELD_NUMBER: _ClassVar[int]
    OPEN_CALLBACKS_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    REPEAT_CONTACT_FIELD_NUMBER: _ClassVar[int]
    name: str
    tenant: str
    channel: _common_pb2.Channel
    product_uri: str
    product_name: str
    department: str
    queue: str
    priority: int
    service_level_target: _common_pb2.ServiceLevelTarget
    handling: _common_pb2.Handling
    state: Contact.State
    enqueue_time: _timestamp_pb2.Timestamp
    agent: str
    overflowed: bool
    open_callbacks: _containers.RepeatedCompositeFieldContainer[OpenCallbackRef]
    outcome: str
    repeat_contact: bool
    def __init__(self, name: _Optional[str] = ..., tenant: _Optional[str] = ..., channel: _Optional[_Union[_common_pb2.Channel, str]] = ..., product_uri: _Optional[str] = ..., product_name: _Optional[str] = ..., department: _Optional[str] = ..., queue: _Optional[str] = ..., priority: _Optional[int] = ..., service_level_target: _Optional[_Union[_common_pb2.ServiceLevelTarget, _Mapping]] = ..., handling: _Optional[_Union[_common_pb2.Handling, str]] = ..., state: _Optional[_Union[Contact.State, str]] = ..., enqueue_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., agent: _Optional[str] = ..., overflowed: _Optional[bool] = ..., open_callbacks: _Optional[_Iterable[_Union[OpenCallbackRef, _Mapping]]] = ..., outcome: _Optional[str] = ..., repeat_contact: _Optional[bool] = ...) -> None: ...

class WithdrawContactRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetContactRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ClassifyQuestionRequest(_message.Message):
    __slots__ = ("tenant", "question", "limit")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    QUESTION_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    question: str
    limit: int
    def __init__(self, tenant: _Optional[str] = ..., question: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class ClassifyQuestionResponse(_message.Message):
    __slots__ = ("products", "scope", "referral")
    PRODUCTS_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    REFERRAL_FIELD_NUMBER: _ClassVar[int]
    products: _containers.RepeatedCompositeFieldContainer[ProductCandidate]
    scope: str
    referral: Referral
    def __init__(self, products: _Optional[_Iterable[_Union[ProductCandidate, _Mapping]]] = ..., scope: _Optional[str] = ..., referral: _Optional[_Union[Referral, _Mapping]] = ...) -> None: ...

class Agent(_message.Message):
    __slots__ = ("name", "display_name", "tenants", "overflow_tenants", "departments", "languages", "channels", "state", "state_time", "capacities")
    class State(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STATE_UNSPECIFIED: _ClassVar[Agent.State]
        STATE_OFFLINE: _ClassVar[Agent.State]
        STATE_AVAILABLE: _ClassVar[Agent.State]
        STATE_BUSY: _ClassVar[Agent.State]
        STATE_WRAP_UP: _ClassVar[Agent.State]
        STATE_BREAK: _ClassVar[Agent.State]
    STATE_UNSPECIFIED: Agent.State
    STATE_OFFLINE: Agent.State
    STATE_AVAILABLE: Agent.State
    STATE_BUSY: Agent.State
    STATE_WRAP_UP: Agent.State
    STATE_BREAK: Agent.State
    NAME_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    TENANTS_FIELD_NUMBER: _ClassVar[int]
    OVERFLOW_TENANTS_FIELD_NUMBER: _ClassVar[int]
    DEPARTMENTS_FIELD_NUMBER: _ClassVar[int]
    LANGUAGES_FIELD_NUMBER: _ClassVar[int]
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STATE_TIME_FIELD_NUMBER: _ClassVar[int]
    CAPACITIES_FIELD_NUMBER: _ClassVar[int]
    name: str
    display_name: str
    tenants: _containers.RepeatedScalarFieldContainer[str]
    overflow_tenants: _containers.RepeatedScalarFieldContainer[str]
    departments: _containers.RepeatedScalarFieldContainer[str]
    languages: _containers.RepeatedScalarFieldContainer[str]
    channels: _containers.RepeatedScalarFieldContainer[_common_pb2.Channel]
    state: Agent.State
    state_time: _timestamp_pb2.Timestamp
    capacities: _containers.RepeatedCompositeFieldContainer[ChannelCapacity]
    def __init__(self, name: _Optional[str] = ..., display_name: _Optional[str] = ..., tenants: _Optional[_Iterable[str]] = ..., overflow_tenants: _Optional[_Iterable[str]] = ..., departments: _Optional[_Iterable[str]] = ..., languages: _Optional[_Iterable[str]] = ..., channels: _Optional[_Iterable[_Union[_common_pb2.Channel, str]]] = ..., state: _Optional[_Union[Agent.State, str]] = ..., state_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., capacities: _Optional[_Iterable[_Union[ChannelCapacity, _Mapping]]] = ...) -> None: ...

class ChannelCapacity(_message.Message):
    __slots__ = ("channel", "capacity")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_FIELD_NUMBER: _ClassVar[int]
    channel: _common_pb2.Channel
    capacity: int
    def __init__(self, channel: _Optional[_Union[_common_pb2.Channel, str]] = ..., capacity: _Optional[int] = ...) -> None: ...

class CreateAgentRequest(_message.Message):
    __slots__ = ("agent_id", "agent", "request_id")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    agent: Agent
    request_id: str
    def __init__(self, agent_id: _Optional[str] = ..., agent: _Optional[_Union[Agent, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class GetAgentRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ListAgentsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListAgentsResponse(_message.Message):
    __slots__ = ("agents", "next_page_token")
    AGENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    agents: _containers.RepeatedCompositeFieldContainer[Agent]
    next_page_token: str
    def __init__(self, agents: _Optional[_Iterable[_Union[Agent, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class SetAgentStateRequest(_message.Message):
    __slots__ = ("name", "state")
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    name: str
    state: Agent.State
    def __init__(self, name: _Optional[str] = ..., state: _Optional[_Union[Agent.State, str]] = ...) -> None: ...

class UpdateAgentRequest(_message.Message):
    __slots__ = ("agent", "update_mask")
    AGENT_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    agent: Agent
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, agent: _Optional[_Union[Agent, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class SetOverflowThresholdRequest(_message.Message):
    __slots__ = ("tenant", "seconds")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    seconds: int
    def __init__(self, tenant: _Optional[str] = ..., seconds: _Optional[int] = ...) -> None: ...

class OverflowThreshold(_message.Message):
    __slots__ = ("tenant", "seconds", "expire_time")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    seconds: int
    expire_time: _timestamp_pb2.Timestamp
    def __init__(self, tenant: _Optional[str] = ..., seconds: _Optional[int] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ConnectAgentRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class Offer(_message.Message):
    __slots__ = ("contact", "expire_time")
    CONTACT_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    contact: Contact
    expire_time: _timestamp_pb2.Timestamp
    def __init__(self, contact: _Optional[_Union[Contact, _Mapping]] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ConnectAgentResponse(_message.Message):
    __slots__ = ("offer", "offer_revoked", "agent")
    OFFER_FIELD_NUMBER: _ClassVar[int]
    OFFER_REVOKED_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    offer: Offer
    offer_revoked: str
    agent: Agent
    def __init__(self, offer: _Optional[_Union[Offer, _Mapping]] = ..., offer_revoked: _Optional[str] = ..., agent: _Optional[_Union[Agent, _Mapping]] = ...) -> None: ...

class AcceptOfferRequest(_message.Message):
    __slots__ = ("agent", "contact")
    AGENT_FIELD_NUMBER: _ClassVar[int]
    CONTACT_FIELD_NUMBER: _ClassVar[int]
    agent: str
    contact: str
    def __init__(self, agent: _Optional[str] = ..., contact: _Optional[str] = ...) -> None: ...

class RejectOfferRequest(_message.Message):
    __slots__ = ("agent", "contact")
    AGENT_FIELD_NUMBER: _ClassVar[int]
    CONTACT_FIELD_NUMBER: _ClassVar[int]
    agent: str
    contact: str
    def __init__(self, agent: _Optional[str] = ..., contact: _Optional[str] = ...) -> None: ...

class CompleteContactRequest(_message.Message):
    __slots__ = ("agent", "contact", "outcome", "correction")
    AGENT_FIELD_NUMBER: _ClassVar[int]
    CONTACT_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    CORRECTION_FIELD_NUMBER: _ClassVar[int]
    agent: str
    contact: str
    outcome: str
    correction: Correction
    def __init__(self, agent: _Optional[str] = ..., contact: _Optional[str] = ..., outcome: _Optional[str] = ..., correction: _Optional[_Union[Correction, _Mapping]] = ...) -> None: ...

class Correction(_message.Message):
    __slots__ = ("product_uri", "refer_to")
    PRODUCT_URI_FIELD_NUMBER: _ClassVar[int]
    REFER_TO_FIELD_NUMBER: _ClassVar[int]
    product_uri: str
    refer_to: str
    def __init__(self, product_uri: _Optional[str] = ..., refer_to: _Optional[str] = ...) -> None: ...

class QueueStats(_message.Message):
    __slots__ = ("tenant", "queue", "waiting", "longest_wait_seconds", "offered", "answered", "answered_within_target", "service_level", "average_speed_of_answer_seconds", "abandoned", "short_abandoned", "abandonment_rate", "agents_available", "agents_eligible", "overflowed", "repeat_contacts", "target", "overflow_threshold_seconds", "referrals", "overflowed_in")
    class ReferralsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    TENANT_FIELD_NUMBER: _ClassVar[int]
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    WAITING_FIELD_NUMBER: _ClassVar[int]
    LONGEST_WAIT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    OFFERED_FIELD_NUMBER: _ClassVar[int]
    ANSWERED_FIELD_NUMBER: _ClassVar[int]
    ANSWERED_WITHIN_TARGET_FIELD_NUMBER: _ClassVar[int]
    SERVICE_LEVEL_FIELD_NUMBER: _ClassVar[int]
    AVERAGE_SPEED_OF_ANSWER_SECONDS_FIELD_NUMBER: _ClassVar[int]
    ABANDONED_FIELD_NUMBER: _ClassVar[int]
    SHORT_ABANDONED_FIELD_NUMBER: _ClassVar[int]
    ABANDONMENT_RATE_FIELD_NUMBER: _ClassVar[int]
    AGENTS_AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    AGENTS_ELIGIBLE_FIELD_NUMBER: _ClassVar[int]
    OVERFLOWED_FIELD_NUMBER: _ClassVar[int]
    REPEAT_CONTACTS_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    OVERFLOW_THRESHOLD_SECONDS_FIELD_NUMBER: _ClassVar[int]
    REFERRALS_FIELD_NUMBER: _ClassVar[int]
    OVERFLOWED_IN_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    queue: str
    waiting: int
    longest_wait_seconds: float
    offered: int
    answered: int
    answered_within_target: int
    service_level: float
    average_speed_of_answer_seconds: float
    abandoned: int
    short_abandoned: int
    abandonment_rate: float
    agents_available: int
    agents_eligible: int
    overflowed: int
    repeat_contacts: int
    target: _common_pb2.ServiceLevelTarget
    overflow_threshold_seconds: int
    referrals: _containers.ScalarMap[str, int]
    overflowed_in: int
    def __init__(self, tenant: _Optional[str] = ..., queue: _Optional[str] = ..., waiting: _Optional[int] = ..., longest_wait_seconds: _Optional[float] = ..., offered: _Optional[int] = ..., answered: _Optional[int] = ..., answered_within_target: _Optional[int] = ..., service_level: _Optional[float] = ..., average_speed_of_answer_seconds: _Optional[float] = ..., abandoned: _Optional[int] = ..., short_abandoned: _Optional[int] = ..., abandonment_rate: _Optional[float] = ..., agents_available: _Optional[int] = ..., agents_eligible: _Optional[int] = ..., overflowed: _Optional[int] = ..., repeat_contacts: _Optional[int] = ..., target: _Optional[_Union[_common_pb2.ServiceLevelTarget, _Mapping]] = ..., overflow_threshold_seconds: _Optional[int] = ..., referrals: _Optional[_Mapping[str, int]] = ..., overflowed_in: _Optional[int] = ...) -> None: ...

class GetQueueStatsRequest(_message.Message):
    __slots__ = ("tenant",)
    TENANT_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    def __init__(self, tenant: _Optional[str] = ...) -> None: ...

class GetQueueStatsResponse(_message.Message):
    __slots__ = ("queues",)
    QUEUES_FIELD_NUMBER: _ClassVar[int]
    queues: _containers.RepeatedCompositeFieldContainer[QueueStats]
    def __init__(self, queues: _Optional[_Iterable[_Union[QueueStats, _Mapping]]] = ...) -> None: ...

class WatchQueueStatsRequest(_message.Message):
    __slots__ = ("tenant", "interval_ms")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_MS_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    interval_ms: int
    def __init__(self, tenant: _Optional[str] = ..., interval_ms: _Optional[int] = ...) -> None: ...

class WatchQueueStatsResponse(_message.Message):
    __slots__ = ("queues",)
    QUEUES_FIELD_NUMBER: _ClassVar[int]
    queues: _containers.RepeatedCompositeFieldContainer[QueueStats]
    def __init__(self, queues: _Optional[_Iterable[_Union[QueueStats, _Mapping]]] = ...) -> None: ...
