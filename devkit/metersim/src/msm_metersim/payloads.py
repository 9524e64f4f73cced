"""The bytes a simulated meter publishes, shaped by msm_common's contracts (pure)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import orjson
from msm_common.contracts import AckStatus, format_timestamp

# Older firmware answers with a bare status word and no command_id.
LEGACY_WORDS = {
    AckStatus.SUCCESS: "ok",
    AckStatus.FAILED: "error",
    AckStatus.REJECTED: "rejected",
    AckStatus.IN_PROGRESS: "in_progress",
}


def iso(epoch_s: float) -> str:
    """ISO-8601 UTC with milliseconds, as the contract formats timestamps."""
    return format_timestamp(datetime.fromtimestamp(epoch_s, UTC))


def _digest(device_uuid: str) -> bytes:
    return hashlib.sha256(device_uuid.encode()).digest()


def luhn_digit(digits: str) -> str:
    """The Luhn check digit that completes `digits` (IMEIs end with one)."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 0:  # doubled: these become the odd positions once the digit is appended
            value *= 2
            value = value - 9 if value > 9 else value
        total += value
    return str((10 - total % 10) % 10)


def imei_for(device_uuid: str) -> str:
    """A stable 15-digit IMEI (TAC 35 + 12 digits from the uuid + Luhn digit)."""
    body = "35" + str(int.from_bytes(_digest(device_uuid)[:8], "big") % 10**12).zfill(12)
    return body + luhn_digit(body)


def registered_device(device_uuid: str) -> dict[str, Any]:
    """The `devices` document of a simulated meter as registration leaves it (before its first
    device info): what a test or benchmark stack seeds so the backend knows the fleet."""
    return {
        "_id": device_uuid,
        "device_imei": imei_for(device_uuid),
        "mqtt_status": False,
        "sftp_status": False,
    }


def ip_for(device_uuid: str) -> str:
    """A stable private IPv4 address (10.x.y.z)."""
    raw = _digest(device_uuid)
    return f"10.{raw[8]}.{raw[9]}.{raw[10] % 254 + 1}"


def device_info(
    device_uuid: str,
    *,
    serial: str,
    firmware_version: str,
    mqtt_status: bool,
    sftp_status: bool,
    now: float,
) -> bytes:
    return orjson.dumps(
        {
            "device_imei": imei_for(device_uuid),
            "device_ip": ip_for(device_uuid),
            "firmware_version": firmware_version,
            "mqtt_status": mqtt_status,
            "sftp_status": sftp_status,
            "serial": serial,
            "timestamp": iso(now),
        }
    )


def telemetry_single(reading: dict[str, Any], now: float) -> bytes:
    return orjson.dumps({"timestamp": iso(now), **reading})


def telemetry_batch(readings: list[dict[str, Any]], now: float) -> bytes:
    return orjson.dumps({"timestamp": iso(now), "readings": readings})


def ack(command_id: str | None, status: AckStatus, message: str, *, legacy: bool) -> bytes:
    """`{"command_id","status","message"}`, or legacy firmware's `{"status":"ok"}`."""
    if legacy:
        return orjson.dumps({"status": LEGACY_WORDS[status]})
    return orjson.dumps({"command_id": command_id, "status": status.value, "message": message})


def shadow_reported(reported: dict[str, Any]) -> bytes:
    """An update request that reports `reported` (AWS Device Shadow)."""
    return orjson.dumps({"state": {"reported": reported}})
