import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from kcc.common.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Callback(_message.Message):
    __slots__ = ("name", "department", "product_uri", "contact", "phone_number", "preferred_times", "note", "status", "create_time", "deadline", "assignee", "attempts", "outcome", "update_time", "citizen_key", "warned", "breached", "channel", "escalated")
    class Status(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STATUS_UNSPECIFIED: _ClassVar[Callback.Status]
        STATUS_REQUESTED: _ClassVar[Callback.Status]
        STATUS_CLAIMED: _ClassVar[Callback.Status]
        STATUS_ATTEMPTED: _ClassVar[Callback.Status]
        STATUS_COMPLETED: _ClassVar[Callback.Status]
        STATUS_RETURNED: _ClassVar[Callback.Status]
        STATUS_CANCELLED: _ClassVar[Callback.Status]
        STATUS_UNREACHABLE: _ClassVar[Callback.Status]
    STATUS_UNSPECIFIED: Callback.Status
    STATUS_REQUESTED: Callback.Status
    STATUS_CLAIMED: Callback.Status
    STATUS_ATTEMPTED: Callback.Status
    STATUS_COMPLETED: Callback.Status
    STATUS_RETURNED: Callback.Status
    STATUS_CANCELLED: Callback.Status
    STATUS_UNREACHABLE: Callback.Status
    NAME_FIELD_NUMBER: _ClassVar[int]
    DEPARTMENT_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_URI_FIELD_NUMBER: _ClassVar[int]
    CONTACT_FIELD_NUMBER: _ClassVar[int]
    PHONE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    PREFERRED_TIMES_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_FIELD_NUMBER: _ClassVar[int]
    ASSIGNEE_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    CITIZEN_KEY_FIELD_NUMBER: _ClassVar[int]
    WARNED_FIELD_NUMBER: _ClassVar[int]
    BREACHED_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    ESCALATED_FIELD_NUMBER: _ClassVar[int]
    name: str
    department: str
    product_uri: str
    contact: str
    phone_number: str
    preferred_times: str
    note: str
    status: Callback.Status
    create_time: _timestamp_pb2.Timestamp
    deadline: _timestamp_pb2.Timestamp
    assignee: str
    attempts: int
    outcome: str
    update_time: _timestamp_pb2.Timestamp
    citizen_key: str
    warned: bool
    breached: bool
    channel: _common_pb2.Channel
    escalated: bool
    def __init__(self, name: _Optional[str] = ..., department: _Optional[str] = ..., product_uri: _Optional[str] = ..., contact: _Optional[str] = ..., phone_number: _Optional[str] = ..., preferred_times: _Optional[str] = ..., note: _Optional[str] = ..., status: _Optional[_Union[Callback.Status, str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., deadline: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., assignee: _Optional[str] = ..., attempts: _Optional[int] = ..., outcome: _Optional[str] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., citizen_key: _Optional[str] = ..., warned: _Optional[bool] = ..., breached: _Optional[bool] = ..., channel: _Optional[_Union[_common_pb2.Channel, str]] = ..., escalated: _Optional[bool] = ...) -> None: ...

class CreateCallbackRequest(_message.Message):
    __slots__ = ("parent", "callback", "request_id", "requested_deadline")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    CALLBACK_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_DEADLINE_FIELD_NUMBER: _ClassVar[int]
    parent: str
    callback: Callback
    request_id: str
    requested_deadline: _timestamp_pb2.Timestamp
    def __init__(self, parent: _Optional[str] = ..., callback: _Optional[_Union[Callback, _Mapping]] = ..., request_id: _Optional[str] = ..., requested_deadline: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetCallbackRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ListCallbacksRequest(_message.Message):
    __slots__ = ("parent", "page_size", "page_token", "department", "statuses", "deadline_after", "deadline_before", "assignee")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    DEPARTMENT_FIELD_NUMBER: _ClassVar[int]
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_AFTER_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_BEFORE_FIELD_NUMBER: _ClassVar[int]
    ASSIGNEE_FIELD_NUMBER: _ClassVar[int]
    parent: str
    page_size: int
    page_token: str
    department: str
    statuses: _containers.RepeatedScalarFieldContainer[Callback.Status]
    deadline_after: _timestamp_pb2.Timestamp
    deadline_before: _timestamp_pb2.Timestamp
    assignee: str
    def __init__(self, parent: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., department: _Optional[str] = ..., statuses: _Optional[_Iterable[_Union[Callback.Status, str]]] = ..., deadline_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., deadline_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., assignee: _Optional[str] = ...) -> None: ...

class ListCallbacksResponse(_message.Message):
    __slots__ = ("callbacks", "next_page_token")
    CALLBACKS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    callbacks: _containers.RepeatedCompositeFieldContainer[Callback]
    next_page_token: str
    def __init__(self, callbacks: _Optional[_Iterable[_Union[Callback, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class WatchCallbacksRequest(_message.Message):
    __slots__ = ("parent", "department", "after_sequence")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    DEPARTMENT_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    parent: str
    department: str
    after_sequence: int
    def __init__(self, parent: _Optional[str] = ..., department: _Optional[str] = ..., after_sequence: _Optional[int] = ...) -> None: ...

class WatchCallbacksResponse(_message.Message):
    __slots__ = ("callback", "change", "sequence")
    CALLBACK_FIELD_NUMBER: _ClassVar[int]
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    callback: Callback
    change: str
    sequence: int
    def __init__(self, callback: _Optional[_Union[Callback, _Mapping]] = ..., change: _Optional[str] = ..., sequence: _Optional[int] = ...) -> None: ...

class ClaimCallbackRequest(_message.Message):
    __slots__ = ("name", "assignee")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ASSIGNEE_FIELD_NUMBER: _ClassVar[int]
    name: str
    assignee: str
    def __init__(self, name: _Optional[str] = ..., assignee: _Optional[str] = ...) -> None: ...

class RecordAttemptRequest(_message.Message):
    __slots__ = ("name", "result", "note")
    class Result(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        RESULT_UNSPECIFIED: _ClassVar[RecordAttemptRequest.Result]
        RESULT_REACHED: _ClassVar[RecordAttemptRequest.Result]
        RESULT_NOT_REACHED: _ClassVar[RecordAttemptRequest.Result]
        RESULT_VOICEMAIL: _ClassVar[RecordAttemptRequest.Result]
        RESULT_WRONG_NUMBER: _ClassVar[RecordAttemptRequest.Result]
    RESULT_UNSPECIFIED: RecordAttemptRequest.Result
    RESULT_REACHED: RecordAttemptRequest.Result
    RESULT_NOT_REACHED: RecordAttemptRequest.Result
    RESULT_VOICEMAIL: RecordAttemptRequest.Result
    RESULT_WRONG_NUMBER: RecordAttemptRequest.Result
    NAME_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    name: str
    result: RecordAttemptRequest.Result
    note: str
    def __init__(self, name: _Optional[str] = ..., result: _Optional[_Union[RecordAttemptRequest.Result, str]] = ..., note: _Optional[str] = ...) -> None: ...

class CompleteCallbackRequest(_message.Message):
    __slots__ = ("name", "outcome", "note")
    NAME_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    name: str
    outcome: str
    note: str
    def __init__(self, name: _Optional[str] = ..., outcome: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...

class ForwardCallbackRequest(_message.Message):
    __slots__ = ("name", "department", "note")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DEPARTMENT_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    name: str
    department: str
    note: str
    def __init__(self, name: _Optional[str] = ..., department: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...

class ReturnCallbackToKccRequest(_message.Message):
    __slots__ = ("name", "reason")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    name: str
    reason: str
    def __init__(self, name: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class CancelCallbackRequest(_message.Message):
    __slots__ = ("name", "reason")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    name: str
    reason: str
    def __init__(self, name: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class AuditEntry(_message.Message):
    __slots__ = ("callback", "principal", "action", "detail", "time")
    CALLBACK_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    callback: str
    principal: str
    action: str
    detail: str
    time: _timestamp_pb2.Timestamp
    def __init__(self, callback: _Optional[str] = ..., principal: _Optional[str] = ..., action: _Optional[str] = ..., detail: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListAuditEntriesRequest(_message.Message):
    __slots__ = ("parent", "page_size", "page_token")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    parent: str
    page_size: int
    page_token: str
    def __init__(self, parent: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListAuditEntriesResponse(_message.Message):
    __slots__ = ("audit_entries", "next_page_token")
    AUDIT_ENTRIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    audit_entries: _containers.RepeatedCompositeFieldContainer[AuditEntry]
    next_page_token: str
    def __init__(self, audit_entries: _Optional[_Iterable[_Union[AuditEntry, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DepartmentCallbackStats(_message.Message):
    __slots__ = ("department", "open", "due_today", "overdue", "median_seconds_to_first_attempt", "completed_within_deadline", "completed", "warning")
    DEPARTMENT_FIELD_NUMBER: _ClassVar[int]
    OPEN_FIELD_NUMBER: _ClassVar[int]
    DUE_TODAY_FIELD_NUMBER: _ClassVar[int]
    OVERDUE_FIELD_NUMBER: _ClassVar[int]
    MEDIAN_SECONDS_TO_FIRST_ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_WITHIN_DEADLINE_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_FIELD_NUMBER: _ClassVar[int]
    WARNING_FIELD_NUMBER: _ClassVar[int]
    department: str
    open: int
    due_today: int
    overdue: int
    median_seconds_to_first_attempt: float
    completed_within_deadline: float
    completed: int
    warning: int
    def __init__(self, department: _Optional[str] = ..., open: _Optional[int] = ..., due_today: _Optional[int] = ..., overdue: _Optional[int] = ..., median_seconds_to_first_attempt: _Optional[float] = ..., completed_within_deadline: _Optional[float] = ..., completed: _Optional[int] = ..., warning: _Optional[int] = ...) -> None: ...

class GetCallbackStatsRequest(_message.Message):
    __slots__ = ("parent",)
    PARENT_FIELD_NUMBER: _ClassVar[int]
    parent: str
    def __init__(self, parent: _Optional[str] = ...) -> None: ...

class GetCallbackStatsResponse(_message.Message):
    __slots__ = ("departments",)
    DEPARTMENTS_FIELD_NUMBER: _ClassVar[int]
    departments: _containers.RepeatedCompositeFieldContainer[DepartmentCallbackStats]
    def __init__(self, departments: _Optional[_Iterable[_Union[DepartmentCallbackStats, _Mapping]]] = ...) -> None: ...

class GetUsageReportRequest(_message.Message):
    __slots__ = ("parent", "start_date", "end_date")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    START_DATE_FIELD_NUMBER: _ClassVar[int]
    END_DATE_FIELD_NUMBER: _ClassVar[int]
    parent: str
    start_date: str
    end_date: str
    def __init__(self, parent: _Optional[str] = ..., start_date: _Optional[str] = ..., end_date: _Optional[str] = ...) -> None: ...

class UsageReportRow(_message.Message):
    __slots__ = ("department", "created", "completed", "completed_within_deadline", "returned", "cancelled", "unreachable", "attempts", "forwarded_in", "contacts_routed", "contacts_completed", "contacts_abandoned")
    DEPARTMENT_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_WITHIN_DEADLINE_FIELD_NUMBER: _ClassVar[int]
    RETURNED_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_FIELD_NUMBER: _ClassVar[int]
    UNREACHABLE_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    FORWARDED_IN_FIELD_NUMBER: _ClassVar[int]
    CONTACTS_ROUTED_FIELD_NUMBER: _ClassVar[int]
    CONTACTS_COMPLETED_FIELD_NUMBER: _ClassVar[int]
    CONTACTS_ABANDONED_FIELD_NUMBER: _ClassVar[int]
    department: str
    created: int
    completed: int
    completed_within_deadline: int
    returned: int
    cancelled: int
    unreachable: int
    attempts: int
    forwarded_in: int
    contacts_routed: int
    contacts_completed: int
    contacts_abandoned: int
    def __init__(self, department: _Optional[str] = ..., created: _Optional[int] = ..., completed: _Optional[int] = ..., completed_within_deadline: _Optional[int] = ..., returned: _Optional[int] = ..., cancelled: _Optional[int] = ..., unreachable: _Optional[int] = ..., attempts: _Optional[int] = ..., forwarded_in: _Optional[int] = ..., contacts_routed: _Optional[int] = ..., contacts_completed: _Optional[int] = ..., contacts_abandoned: _Optional[int] = ...) -> None: ...

class GetUsageReportResponse(_message.Message):
    __slots__ = ("tenant", "start_date", "end_date", "rows")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    START_DATE_FIELD_NUMBER: _ClassVar[int]
    END_DATE_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    start_date: str
    end_date: str
    rows: _containers.RepeatedCompositeFieldContainer[UsageReportRow]
    def __init__(self, tenant: _Optional[str] = ..., start_date: _Optional[str] = ..., end_date: _Optional[str] = ..., rows: _Optional[_Iterable[_Union[UsageReportRow, _Mapping]]] = ...) -> None: ...

class GetAccountabilityReportRequest(_message.Message):
    __slots__ = ("parent", "start_date", "end_date")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    START_DATE_FIELD_NUMBER: _ClassVar[int]
    END_DATE_FIELD_NUMBER: _ClassVar[int]
    parent: str
    start_date: str
    end_date: str
    def __init__(self, parent: _Optional[str] = ..., start_date: _Optional[str] = ..., end_date: _Optional[str] = ...) -> None: ...

class AccountabilityRow(_message.Message):
    __slots__ = ("department", "requested", "on_time", "breached", "median_seconds_to_first_attempt", "repeat_contacts")
    DEPARTMENT_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_FIELD_NUMBER: _ClassVar[int]
    ON_TIME_FIELD_NUMBER: _ClassVar[int]
    BREACHED_FIELD_NUMBER: _ClassVar[int]
    MEDIAN_SECONDS_TO_FIRST_ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    REPEAT_CONTACTS_FIELD_NUMBER: _ClassVar[int]
    department: str
    requested: int
    on_time: int
    breached: int
    median_seconds_to_first_attempt: float
    repeat_contacts: int
    def __init__(self, department: _Optional[str] = ..., requested: _Optional[int] = ..., on_time: _Optional[int] = ..., breached: _Optional[int] = ..., median_seconds_to_first_attempt: _Optional[float] = ..., repeat_contacts: _Optional[int] = ...) -> None: ...

class GetAccountabilityReportResponse(_message.Message):
    __slots__ = ("tenant", "start_date", "end_date", "rows")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    START_DATE_FIELD_NUMBER: _ClassVar[int]
    END_DATE_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    start_date: str
    end_date: str
    rows: _containers.RepeatedCompositeFieldContainer[AccountabilityRow]
    def __init__(self, tenant: _Optional[str] = ..., start_date: _Optional[str] = ..., end_date: _Optional[str] = ..., rows: _Optional[_Iterable[_Union[AccountabilityRow, _Mapping]]] = ...) -> None: ...
