"""Protobuf enum values by their short names (CHANNEL_PHONE <-> PHONE), both ways, from the descriptor.

The one map that rows, events and the command line use, so that no code spells a prefix or a
list of names of its own. The zero value (`..._UNSPECIFIED`) is the empty name.
"""

from __future__ import annotations

from typing import Any

from kcc.common.v1 import common_pb2
from kcc.routing.v1 import routing_pb2
from kcc.tenancy.v1 import tenancy_pb2


class EnumNames:
    def __init__(self, enum: Any, prefix: str) -> None:
        """`enum` is a generated enum wrapper such as common_pb2.Channel; `prefix` e.g. "CHANNEL_"."""
        self._by_number = {v.number: v.name.removeprefix(prefix) for v in enum.DESCRIPTOR.values if v.number}
        self._by_name = {name: number for number, name in self._by_number.items()}
        self.names = tuple(self._by_number.values())  # without the zero value: the choices a user has

    def name(self, number: int) -> str:
        """The short name; "" for the zero value or a number this code does not know."""
        return self._by_number.get(number, "")

    def number(self, name: str) -> int:
        """The enum value of a short name; 0 for "" or an unknown name."""
        return self._by_name.get(name, 0)


CHANNELS = EnumNames(common_pb2.Channel, "CHANNEL_")
HANDLINGS = EnumNames(common_pb2.Handling, "HANDLING_")
TENANT_STATES = EnumNames(tenancy_pb2.Tenant.State, "STATE_")
ENTRY_KINDS = EnumNames(tenancy_pb2.EntryPoint.Kind, "KIND_")
CONTACT_STATES = EnumNames(routing_pb2.Contact.State, "STATE_")
AGENT_STATES = EnumNames(routing_pb2.Agent.State, "STATE_")
