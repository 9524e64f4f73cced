"""What the commander consumes besides command requests: ack and presence events. Pure parsing.

Both arrive as CloudEvents on `msm.events` (published by ingest):
`command.ack.{uuid}` data `{command_id|null, command_type, status, message, received_at}`,
`device.presence.{uuid}` data `{device_uuid, connected, timestamp, version_number,
disconnect_reason}`. Parsers raise only ContractError.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from msm_common.contracts import _checks
from msm_common.contracts.acks import MAX_ACK_MESSAGE, STATUS_WORDS, CommandAck
from msm_common.contracts.commands import command_type
from msm_common.contracts.errors import ContractError, field_error, short_repr
from msm_common.contracts.events import CloudEvent
from msm_common.contracts.timeparse import parse_timestamp


@dataclass(frozen=True, slots=True)
class PresenceChanged:
    device_uuid: str
    connected: bool
    timestamp: datetime


def _device(event: CloudEvent, data: dict[str, object], routing_key: str) -> str:
    """The device: the data's `device_uuid`, else the event subject, else the routing key."""
    candidate = data.get("device_uuid") or event.subject or routing_key.rsplit(".", 1)[-1]
    return _checks.check_device_uuid(candidate)


def _data(event: CloudEvent) -> dict[str, object]:
    return _checks.require_object(event.data, "event data")


def parse_ack_event(body: bytes, routing_key: str, *, now: datetime) -> CommandAck:
    """The meter's ack that ingest forwarded: the same `CommandAck` ingest read off the topic."""
    event = CloudEvent.from_json(body)
    data = _data(event)
    command_id = data.get("command_id")
    if command_id is not None:
        command_id = _checks.string(data, "command_id", "", 128)
    status = data.get("status")
    ack_status = STATUS_WORDS.get(status.lower()) if isinstance(status, str) else None
    if ack_status is None:
        raise field_error("status", f"must be an ack status, got {short_repr(status)}")
    message = data.get("message")
    if message is not None and not isinstance(message, str):
        raise field_error("message", f"must be a string, got {short_repr(message)}")
    received = data.get("received_at")
    return CommandAck(
        device_uuid=_device(event, data, routing_key),
        command_type=command_type(data.get("command_type"), "command_type"),
        command_id=command_id,
        status=ack_status,
        message=None if message is None else message[:MAX_ACK_MESSAGE],
        received_at=event.time
        if received is None
        else parse_timestamp(received, received_at=now, field="received_at"),
    )


def parse_presence_event(body: bytes, routing_key: str, *, now: datetime) -> PresenceChanged:
    event = CloudEvent.from_json(body)
    data = _data(event)
    connected = data.get("connected")
    if not isinstance(connected, bool):
        raise field_error("connected", f"must be true or false, got {short_repr(connected)}")
    stamp = data.get("timestamp")
    return PresenceChanged(
        device_uuid=_device(event, data, routing_key),
        connected=connected,
        timestamp=event.time
        if stamp is None
        else parse_timestamp(stamp, received_at=now, field="timestamp"),
    )


__all__ = [
    "ContractError",
    "PresenceChanged",
    "parse_ack_event",
    "parse_presence_event",
]
