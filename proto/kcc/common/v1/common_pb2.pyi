from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class Channel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHANNEL_UNSPECIFIED: _ClassVar[Channel]
    CHANNEL_PHONE: _ClassVar[Channel]
    CHANNEL_CHAT: _ClassVar[Channel]
    CHANNEL_EMAIL: _ClassVar[Channel]
    CHANNEL_COUNTER: _ClassVar[Channel]
    CHANNEL_WEB_FORM: _ClassVar[Channel]

class Handling(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    HANDLING_UNSPECIFIED: _ClassVar[Handling]
    HANDLING_FIRST_LINE: _ClassVar[Handling]
    HANDLING_CALLBACK: _ClassVar[Handling]
CHANNEL_UNSPECIFIED: Channel
CHANNEL_PHONE: Channel
CHANNEL_CHAT: Channel
CHANNEL_EMAIL: Channel
CHANNEL_COUNTER: Channel
CHANNEL_WEB_FORM: Channel
HANDLING_UNSPECIFIED: Handling
HANDLING_FIRST_LINE: Handling
HANDLING_CALLBACK: Handling

class ServiceLevelTarget(_message.Message):
    __slots__ = ("seconds", "percent")
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    PERCENT_FIELD_NUMBER: _ClassVar[int]
    seconds: int
    percent: int
    def __init__(self, seconds: _Optional[int] = ..., percent: _Optional[int] = ...) -> None: ...
