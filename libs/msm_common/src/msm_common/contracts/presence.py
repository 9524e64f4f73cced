"""AWS IoT lifecycle events: `$aws/events/presence/{connected|disconnected}/{clientId}`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import orjson

from msm_common.contracts import _checks
from msm_common.contracts.errors import (
    TOPIC_MISMATCH,
    ContractError,
    field_error,
    short_repr,
)
from msm_common.contracts.timeparse import epoch_ms, parse_timestamp

MAX_CLIENT_ID: Final = 128
_EVENT_TYPES: Final = {"connected": True, "disconnected": False}


@dataclass(frozen=True, slots=True)
class PresenceEvent:
    """A client connected or disconnected; `version_number` orders events of one client."""

    client_id: str
    connected: bool
    timestamp: datetime
    version_number: int
    disconnect_reason: str | None = None
    session_identifier: str | None = None
    principal_identifier: str | None = None
    ip_address: str | None = None

    @property
    def event_type(self) -> str:
        return "connected" if self.connected else "disconnected"

    def to_payload(self) -> bytes:
        """The event as AWS IoT publishes it (what localiot emits)."""
        body: dict[str, Any] = {
            "clientId": self.client_id,
            "timestamp": epoch_ms(self.timestamp),
            "eventType": self.event_type,
            "sessionIdentifier": self.session_identifier,
            "principalIdentifier": self.principal_identifier,
            "versionNumber": self.version_number,
        }
        if not self.connected:
            body["disconnectReason"] = self.disconnect_reason or "CLIENT_INITIATED_DISCONNECT"
        if self.ip_address is not None:
            body["ipAddress"] = self.ip_address
        return orjson.dumps({k: v for k, v in body.items() if v is not None})


def parse_presence(
    client_id: str, connected: bool, data: object, *, received_at: datetime
) -> PresenceEvent:
    """Validate a decoded lifecycle event against the client id and event type of its topic."""
    obj = _checks.require_object(data, "presence event")
    event_type = obj.get("eventType")
    if type(event_type) is not str or event_type not in _EVENT_TYPES:
        if "eventType" not in obj:
            raise field_error("eventType", "required", missing=True)
        raise field_error(
            "eventType", f"must be connected or disconnected, got {short_repr(event_type)}"
        )
    if _EVENT_TYPES[event_type] != connected:
        raise ContractError(TOPIC_MISMATCH, f"eventType {event_type!r} disagrees with the topic")
    payload_client = _checks.string(obj, "clientId", "", MAX_CLIENT_ID)
    if payload_client != client_id:
        raise ContractError(TOPIC_MISMATCH, "clientId disagrees with the topic", field="clientId")
    if "timestamp" not in obj:
        raise field_error("timestamp", "required", missing=True)
    disconnect_reason = None
    if not connected:
        disconnect_reason = _checks.optional_string(obj, "disconnectReason", "", 128)
    return PresenceEvent(
        client_id=client_id,
        connected=connected,
        timestamp=parse_timestamp(obj["timestamp"], received_at=received_at),
        version_number=_checks.integer(obj, "versionNumber", "", 0, 2**63 - 1),
        disconnect_reason=disconnect_reason,
        session_identifier=_checks.optional_string(obj, "sessionIdentifier", "", 256),
        principal_identifier=_checks.optional_string(obj, "principalIdentifier", "", 256),
        ip_address=_checks.optional_string(obj, "ipAddress", "", 64),
    )
