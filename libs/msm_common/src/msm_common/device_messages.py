"""The one entry point for what the backend receives over MQTT: topic + payload -> message."""

from __future__ import annotations

from datetime import datetime

from msm_common import topics
from msm_common.contracts import _checks
from msm_common.contracts.acks import CloudCommandEcho, CommandAck, parse_command_topic_message
from msm_common.contracts.device_info import DeviceInfoMessage, parse_device_info
from msm_common.contracts.errors import UNSUPPORTED_TOPIC, ContractError
from msm_common.contracts.presence import PresenceEvent, parse_presence
from msm_common.contracts.telemetry import TelemetryMessage, parse_telemetry_payload

DeviceMessage = TelemetryMessage | DeviceInfoMessage | CommandAck | CloudCommandEcho | PresenceEvent


def parse_device_message(
    topic: str,
    payload: bytes,
    *,
    received_at: datetime,
    max_bytes: int = _checks.MAX_PAYLOAD_BYTES,
) -> DeviceMessage:
    """Parse one MQTT message; raise ContractError (reason + detail) for anything off-contract.

    A `CloudCommandEcho` is the backend's own command seen on a shared command topic: skip it.
    """
    parsed = topics.parse(topic)
    kind = parsed.kind
    if kind is topics.TopicKind.COMMAND:
        assert parsed.device_uuid is not None and parsed.command_type is not None
        return parse_command_topic_message(
            parsed.device_uuid,
            parsed.command_type,
            payload,
            received_at=received_at,
            max_bytes=max_bytes,
        )
    if kind is topics.TopicKind.TELEMETRY:
        return parse_telemetry_payload(
            parsed.device_uuid or "", payload, received_at=received_at, max_bytes=max_bytes
        )
    if kind is topics.TopicKind.DEVICE_INFO:
        data = _checks.load_json(payload, max_bytes=max_bytes)
        return parse_device_info(parsed.device_uuid or "", data, received_at=received_at)
    if kind is topics.TopicKind.PRESENCE:
        data = _checks.load_json(payload, max_bytes=max_bytes)
        connected = parsed.presence_event is topics.PresenceEventType.CONNECTED
        return parse_presence(parsed.client_id or "", connected, data, received_at=received_at)
    raise ContractError(UNSUPPORTED_TOPIC, f"{topic!r} does not carry a device message")
