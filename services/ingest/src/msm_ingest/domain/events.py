"""The events ingest publishes on `msm.events`, as ready-to-send bodies.

Telemetry events are built straight into JSON bytes (this runs once per message on the hot path):
one event per device and instant, carrying that sample's readings; their bytes equal
`msm_common.contracts.telemetry_event(...).to_json()`, which a unit test checks. The rarer events
go through the shared `make_event` model.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

import orjson
from msm_common.contracts import (
    COMMAND_ACK,
    DEVICE_INFO,
    DEVICE_PRESENCE,
    TELEMETRY_RECEIVED,
    CommandAck,
    DeviceInfoMessage,
    PresenceEvent,
    Reading,
    format_timestamp,
    make_event,
    routing_key,
    telemetry_event_id,
)

_JSON_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC
_TELEMETRY_PREFIX = TELEMETRY_RECEIVED.removeprefix("msm.") + "."


class OutEvent(NamedTuple):
    """One event to publish: where it goes, its body, and its (deterministic) id."""

    routing_key: str
    body: bytes
    event_id: str


class TelemetryEvents(NamedTuple):
    """Telemetry events and, for each, the ids of the readings it announces."""

    events: list[OutEvent]
    reading_ids: list[list[str]]


def telemetry_event(
    readings: Sequence[Reading], reading_ids: Sequence[str], source: str
) -> OutEvent:
    """`telemetry.received` for one device's readings at one instant."""
    first = readings[0]
    when = format_timestamp(first.timestamp)
    event_id = telemetry_event_id(reading_ids)
    body = orjson.dumps(
        {
            "specversion": "1.0",
            "id": event_id,
            "source": source,
            "type": TELEMETRY_RECEIVED,
            "subject": first.device_uuid,
            "time": when,
            "datacontenttype": "application/json",
            "data": {
                "device_uuid": first.device_uuid,
                "timestamp": when,
                "readings": [
                    {
                        "reading_id": reading_id,
                        "channel_id": r.channel_id,
                        "phase": r.phase,
                        "temperature": r.temperature,
                        "line_voltage": r.line_voltage,
                        "current": r.current,
                        "active_power": r.active_power,
                        "reactive_power": r.reactive_power,
                    }
                    for r, reading_id in zip(readings, reading_ids, strict=True)
                ],
            },
        },
        option=_JSON_OPTIONS,
    )
    # The device uuid was checked against the thing-name pattern when the topic was parsed.
    return OutEvent(_TELEMETRY_PREFIX + first.device_uuid, body, event_id)


def telemetry_events(
    readings: Iterable[Reading], reading_ids: Iterable[str], source: str
) -> TelemetryEvents:
    """One event per run of readings of one device at one instant (a message's phases come
    together); a reading id seen twice is announced once."""
    groups: list[tuple[list[Reading], list[str]]] = []
    seen: set[str] = set()
    for reading, reading_id in zip(readings, reading_ids, strict=True):
        if reading_id in seen:
            continue
        seen.add(reading_id)
        if groups:
            members, ids = groups[-1]
            head = members[0]
            if reading.timestamp == head.timestamp and reading.device_uuid == head.device_uuid:
                members.append(reading)
                ids.append(reading_id)
                continue
        groups.append(([reading], [reading_id]))
    out = [telemetry_event(members, ids, source) for members, ids in groups]
    return TelemetryEvents(out, [ids for _, ids in groups])


def message_event_id(topic: str, payload: bytes) -> str:
    """A stable id for the event of one MQTT message: a redelivery gets the same id."""
    digest = hashlib.blake2b(topic.encode(), digest_size=16)
    digest.update(b"\0")
    digest.update(payload)
    return digest.hexdigest()


def _event(
    event_type: str, device_uuid: str, data: Any, *, event_id: str, source: str, time: datetime
) -> OutEvent:
    event = make_event(event_type, source, device_uuid, data, id=event_id, time=time)
    return OutEvent(routing_key(event_type, device_uuid), event.to_json(), event_id)


def device_info_event(msg: DeviceInfoMessage, event_id: str, source: str) -> OutEvent:
    data: dict[str, Any] = {
        "device_uuid": msg.device_uuid,
        "device_imei": msg.device_imei,
        "device_ip": msg.device_ip,
        "firmware_version": msg.firmware_version,
        "mqtt_status": msg.mqtt_status,
        "sftp_status": msg.sftp_status,
        "timestamp": None if msg.timestamp is None else format_timestamp(msg.timestamp),
        "received_at": format_timestamp(msg.received_at),
    }
    time = msg.timestamp or msg.received_at
    return _event(DEVICE_INFO, msg.device_uuid, data, event_id=event_id, source=source, time=time)


def command_ack_event(ack: CommandAck, event_id: str, source: str) -> OutEvent:
    data = {
        "command_id": ack.command_id,
        "command_type": ack.command_type.value,
        "status": ack.status.value,
        "message": ack.message,
        "received_at": format_timestamp(ack.received_at),
    }
    return _event(
        COMMAND_ACK, ack.device_uuid, data, event_id=event_id, source=source, time=ack.received_at
    )


def presence_event(event: PresenceEvent, event_id: str, source: str) -> OutEvent:
    data = {
        "device_uuid": event.client_id,
        "connected": event.connected,
        "timestamp": format_timestamp(event.timestamp),
        "version_number": event.version_number,
        "disconnect_reason": event.disconnect_reason,
    }
    return _event(
        DEVICE_PRESENCE,
        event.client_id,
        data,
        event_id=event_id,
        source=source,
        time=event.timestamp,
    )
