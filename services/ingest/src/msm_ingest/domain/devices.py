"""How a batch changes `devices`: last_seen and latest readings, device info, connectivity.

Every update here is safe to apply twice and in any order (redeliveries, several replicas):
- `last_seen` only moves forward (`$max`);
- `latest.<channel>:<phase>` is replaced only by a newer reading: the stored value is a document
  whose first field is `timestamp`, and MongoDB's `$max` compares documents field by field in
  order, so the newer timestamp wins (portable MongoDB, no update pipeline needed);
- device info and connectivity are guarded by the ordering key of what they last applied, so a
  late message cannot overwrite a newer one (the filter then fails to match: stale).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, NamedTuple

from msm_common.contracts import DeviceInfoMessage, PresenceEvent, Reading

Document = dict[str, Any]


class DeviceWrite(NamedTuple):
    """One guarded update of one device: apply `update` where `_id` and `guard` match."""

    device_uuid: str
    guard: Document
    update: Document


def latest_key(reading: Reading) -> str:
    return f"{reading.channel_id}:{reading.phase}"


def latest_value(reading: Reading) -> Document:
    """The stored latest value; `timestamp` must stay the first field (see module docstring)."""
    return {
        "timestamp": reading.timestamp,
        "temperature": reading.temperature,
        "line_voltage": reading.line_voltage,
        "current": reading.current,
        "active_power": reading.active_power,
        "reactive_power": reading.reactive_power,
    }


def newest_per_key(readings: Iterable[Reading]) -> dict[str, Reading]:
    """The newest reading of each channel/phase."""
    newest: dict[str, Reading] = {}
    for reading in readings:
        key = latest_key(reading)
        current = newest.get(key)
        if current is None or reading.timestamp > current.timestamp:
            newest[key] = reading
    return newest


def _on_insert(now: datetime, seen_at: datetime) -> Document:
    # A device first heard of through its own message is connected at that moment; a presence
    # event with a later timestamp replaces this (see presence_write).
    return {
        "createdAt": now,
        "connectivity": {
            "connected": True,
            "since": seen_at,
            "last_disconnect_reason": None,
            "version": 0,
            "timestamp": seen_at,
        },
    }


def telemetry_writes(
    newest_by_device: Mapping[str, Mapping[str, Reading]],
    last_seen: Mapping[str, datetime],
    now: datetime,
) -> list[DeviceWrite]:
    """One upsert per device: `last_seen` and the newest reading of each channel/phase."""
    writes: list[DeviceWrite] = []
    for device_uuid, newest in newest_by_device.items():
        seen_at = last_seen[device_uuid]
        maxima: Document = {"last_seen": seen_at}
        for key, reading in newest.items():
            maxima[f"latest.{key}"] = latest_value(reading)
        update = {"$max": maxima, "$setOnInsert": _on_insert(now, seen_at)}
        writes.append(DeviceWrite(device_uuid, {}, update))
    return writes


def device_info_write(msg: DeviceInfoMessage, now: datetime) -> DeviceWrite:
    """Upsert what the meter reports about itself unless newer info was already applied.

    `$lte` (not `$lt`) so that a redelivered message applies again, idempotently, and its event
    is published again rather than lost.
    """
    order = msg.timestamp or msg.received_at
    guard = {"$or": [{"info_timestamp": {"$lte": order}}, {"info_timestamp": {"$exists": False}}]}
    fields: Document = {
        "device_imei": msg.device_imei,
        "device_ip": msg.device_ip,
        "firmware_version": msg.firmware_version,
        "mqtt_status": msg.mqtt_status,
        "sftp_status": msg.sftp_status,
        "info_timestamp": order,
        "updatedAt": now,
    }
    if msg.extra:
        fields["device_info_extra"] = dict(msg.extra)
    update = {
        "$set": fields,
        "$max": {"last_seen": msg.received_at},
        "$setOnInsert": _on_insert(now, msg.received_at),
    }
    return DeviceWrite(msg.device_uuid, guard, update)


def presence_guard(event: PresenceEvent) -> Document:
    """Match only if `event` is not older than the connectivity already stored.

    Order: the event's own timestamp, then its version number; at an exact tie a disconnect
    wins over a connect (a session's disconnect follows its connect). An equal event matches
    again, so a redelivery re-applies idempotently and its event is not lost.
    """
    ts, version = event.timestamp, event.version_number
    tie: Document = {"connectivity.timestamp": ts, "connectivity.version": version}
    if event.connected:
        tie["connectivity.connected"] = True
    return {
        "$or": [
            {"connectivity.timestamp": {"$lt": ts}},
            {"connectivity.timestamp": ts, "connectivity.version": {"$lt": version}},
            tie,
            {"connectivity.timestamp": {"$exists": False}},
        ]
    }


def presence_write(event: PresenceEvent) -> DeviceWrite:
    """Set connectivity from a lifecycle event (never creates a device: see handlers)."""
    fields: Document = {
        "connectivity.connected": event.connected,
        "connectivity.since": event.timestamp,
        "connectivity.version": event.version_number,
        "connectivity.timestamp": event.timestamp,
    }
    if not event.connected:
        fields["connectivity.last_disconnect_reason"] = event.disconnect_reason
    return DeviceWrite(event.client_id, presence_guard(event), {"$set": fields})
