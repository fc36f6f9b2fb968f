import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from kcc.common.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Envelope(_message.Message):
    __slots__ = ("id", "tenant", "occurred_at", "tenant_changed", "contact_routed", "contact_changed", "agent_changed", "callback_changed", "matcher_elected", "overflow_threshold_set")
    ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    TENANT_CHANGED_FIELD_NUMBER: _ClassVar[int]
    CONTACT_ROUTED_FIELD_NUMBER: _ClassVar[int]
    CONTACT_CHANGED_FIELD_NUMBER: _ClassVar[int]
    AGENT_CHANGED_FIELD_NUMBER: _ClassVar[int]
    CALLBACK_CHANGED_FIELD_NUMBER: _ClassVar[int]
    MATCHER_ELECTED_FIELD_NUMBER: _ClassVar[int]
    OVERFLOW_THRESHOLD_SET_FIELD_NUMBER: _ClassVar[int]
    id: str
    tenant: str
    occurred_at: _timestamp_pb2.Timestamp
    tenant_changed: TenantChanged
    contact_routed: ContactRouted
    contact_changed: ContactChanged
    agent_changed: AgentChanged
    callback_changed: CallbackChanged
    matcher_elected: MatcherElected
    overflow_threshold_set: OverflowThresholdSet
    def __init__(self, id: _Optional[str] = ..., tenant: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., tenant_changed: _Optional[_Union[TenantChanged, _Mapping]] = ..., contact_routed: _Optional[_Union[ContactRouted, _Mapping]] = ..., contact_changed: _Optional[_Union[ContactChanged, _Mapping]] = ..., agent_changed: _Optional[_Union[AgentChanged, _Mapping]] = ..., callback_changed: _Optional[_Union[CallbackChanged, _Mapping]] = ..., matcher_elected: _Optional[_Union[MatcherElected, _Mapping]] = ..., overflow_threshold_set: _Optional[_Union[OverflowThresholdSet, _Mapping]] = ...) -> None: ...

class TenantChanged(_message.Message):
    __slots__ = ("tenant", "snapshot_version", "resource", "resource_name")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_VERSION_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_NAME_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    snapshot_version: int
    resource: str
    resource_name: str
    def __init__(self, tenant: _Optional[str] = ..., snapshot_version: _Optional[int] = ..., resource: _Optional[str] = ..., resource_name: _Optional[str] = ...) -> None: ...

class ContactRouted(_message.Message):
    __slots__ = ("contact", "channel", "product_uri", "department", "queue", "priority", "repeat_contact", "citizen_key", "enqueue_time", "handling", "service_level_target", "language", "tenant", "product_name", "open_callbacks", "candidates", "recognised", "open_callback_details", "refer_to", "question_words", "question_hash")
    CONTACT_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_URI_FIELD_NUMBER: _ClassVar[int]
    DEPARTMENT_FIELD_NUMBER: _ClassVar[int]
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    REPEAT_CONTACT_FIELD_NUMBER: _ClassVar[int]
    CITIZEN_KEY_FIELD_NUMBER: _ClassVar[int]
    ENQUEUE_TIME_FIELD_NUMBER: _ClassVar[int]
    HANDLING_FIELD_NUMBER: _ClassVar[int]
    SERVICE_LEVEL_TARGET_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_NAME_FIELD_NUMBER: _ClassVar[int]
    OPEN_CALLBACKS_FIELD_NUMBER: _ClassVar[int]
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    RECOGNISED_FIELD_NUMBER: _ClassVar[int]
    OPEN_CALLBACK_DETAILS_FIELD_NUMBER: _ClassVar[int]
    REFER_TO_FIELD_NUMBER: _ClassVar[int]
    QUESTION_WORDS_FIELD_NUMBER: _ClassVar[int]
    QUESTION_HASH_FIELD_NUMBER: _ClassVar[int]
    contact: str
    channel: _common_pb2.Channel
    product_uri: str
    department: str
    queue: str
    priority: int
    repeat_contact: bool
    citizen_key: str
    enqueue_time: _timestamp_pb2.Timestamp
    handling: _common_pb2.Handling
    service_level_target: _common_pb2.ServiceLevelTarget
    language: str
    tenant: str
    product_name: str
    open_callbacks: _containers.RepeatedScalarFieldContainer[str]
    candidates: _containers.RepeatedCompositeFieldContainer[ProductCandidate]
    recognised: bool
    open_callback_details: _containers.RepeatedCompositeFieldContainer[OpenCallback]
    refer_to: str
    question_words: _containers.RepeatedScalarFieldContainer[str]
    question_hash: str
    def __init__(self, contact: _Optional[str] = ..., channel: _Optional[_Union[_common_pb2.Channel, str]] = ..., product_uri: _Optional[str] = ..., department: _Optional[str] = ..., queue: _Optional[str] = ..., priority: _Optional[int] = ..., repeat_contact: _Optional[bool] = ..., citizen_key: _Optional[str] = ..., enqueue_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., handling: _Optional[_Union[_common_pb2.Handling, str]] = ..., service_level_target: _Optional[_Union[_common_pb2.ServiceLevelTarget, _Mapping]] = ..., language: _Optional[str] = ..., tenant: _Optional[str] = ..., product_name: _Optional[str] = ..., open_callbacks: _Optional[_Iterable[str]] = ..., candidates: _Optional[_Iterable[_Union[ProductCandidate, _Mapping]]] = ..., recognised: _Optional[bool] = ..., open_callback_details: _Optional[_Iterable[_Union[OpenCallback, _Mapping]]] = ..., refer_to: _Optional[str] = ..., question_words: _Optional[_Iterable[str]] = ..., question_hash: _Optional[str] = ...) -> None: ...

class ProductCandidate(_message.Message):
    __slots__ = ("uri", "name", "score")
    URI_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    uri: str
    name: str
    score: float
    def __init__(self, uri: _Optional[str] = ..., name: _Optional[str] = ..., score: _Optional[float] = ...) -> None: ...

class OpenCallback(_message.Message):
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

class ContactChanged(_message.Message):
    __slots__ = ("contact", "change", "agent", "outcome", "queue", "fence", "correction")
    CONTACT_FIELD_NUMBER: _ClassVar[int]
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    FENCE_FIELD_NUMBER: _ClassVar[int]
    CORRECTION_FIELD_NUMBER: _ClassVar[int]
    contact: str
    change: str
    agent: str
    outcome: str
    queue: str
    fence: int
    correction: RecognitionCorrection
    def __init__(self, contact: _Optional[str] = ..., change: _Optional[str] = ..., agent: _Optional[str] = ..., outcome: _Optional[str] = ..., queue: _Optional[str] = ..., fence: _Optional[int] = ..., correction: _Optional[_Union[RecognitionCorrection, _Mapping]] = ...) -> None: ...

class RecognitionCorrection(_message.Message):
    __slots__ = ("product_uri", "refer_to", "recognised_product_uri", "recognised_refer_to", "question_words", "question_hash")
    PRODUCT_URI_FIELD_NUMBER: _ClassVar[int]
    REFER_TO_FIELD_NUMBER: _ClassVar[int]
    RECOGNISED_PRODUCT_URI_FIELD_NUMBER: _ClassVar[int]
    RECOGNISED_REFER_TO_FIELD_NUMBER: _ClassVar[int]
    QUESTION_WORDS_FIELD_NUMBER: _ClassVar[int]
    QUESTION_HASH_FIELD_NUMBER: _ClassVar[int]
    product_uri: str
    refer_to: str
    recognised_product_uri: str
    recognised_refer_to: str
    question_words: _containers.RepeatedScalarFieldContainer[str]
    question_hash: str
    def __init__(self, product_uri: _Optional[str] = ..., refer_to: _Optional[str] = ..., recognised_product_uri: _Optional[str] = ..., recognised_refer_to: _Optional[str] = ..., question_words: _Optional[_Iterable[str]] = ..., question_hash: _Optional[str] = ...) -> None: ...

class AgentChanged(_message.Message):
    __slots__ = ("agent", "change", "state", "session", "replica", "actor")
    AGENT_FIELD_NUMBER: _ClassVar[int]
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    REPLICA_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    agent: str
    change: str
    state: int
    session: str
    replica: str
    actor: str
    def __init__(self, agent: _Optional[str] = ..., change: _Optional[str] = ..., state: _Optional[int] = ..., session: _Optional[str] = ..., replica: _Optional[str] = ..., actor: _Optional[str] = ...) -> None: ...

class OverflowThresholdSet(_message.Message):
    __slots__ = ("seconds", "expire_time", "actor")
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    seconds: int
    expire_time: _timestamp_pb2.Timestamp
    actor: str
    def __init__(self, seconds: _Optional[int] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., actor: _Optional[str] = ...) -> None: ...

class MatcherElected(_message.Message):
    __slots__ = ("holder", "fence")
    HOLDER_FIELD_NUMBER: _ClassVar[int]
    FENCE_FIELD_NUMBER: _ClassVar[int]
    holder: str
    fence: int
    def __init__(self, holder: _Optional[str] = ..., fence: _Optional[int] = ...) -> None: ...

class CallbackChanged(_message.Message):
    __slots__ = ("callback", "change", "status", "department", "product_uri", "citizen_key", "deadline", "assignee", "principal", "escalation_target")
    CALLBACK_FIELD_NUMBER: _ClassVar[int]
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DEPARTMENT_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_URI_FIELD_NUMBER: _ClassVar[int]
    CITIZEN_KEY_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_FIELD_NUMBER: _ClassVar[int]
    ASSIGNEE_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    ESCALATION_TARGET_FIELD_NUMBER: _ClassVar[int]
    callback: str
    change: str
    status: str
    department: str
    product_uri: str
    citizen_key: str
    deadline: _timestamp_pb2.Timestamp
    assignee: str
    principal: str
    escalation_target: str
    def __init__(self, callback: _Optional[str] = ..., change: _Optional[str] = ..., status: _Optional[str] = ..., department: _Optional[str] = ..., product_uri: _Optional[str] = ..., citizen_key: _Optional[str] = ..., deadline: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., assignee: _Optional[str] = ..., principal: _Optional[str] = ..., escalation_target: _Optional[str] = ...) -> None: ...
