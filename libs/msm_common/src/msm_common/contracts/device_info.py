"""Device information from `msm/{uuid}/device_info`."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from msm_common.contracts import _checks
from msm_common.contracts.errors import field_error, short_repr
from msm_common.contracts.timeparse import as_utc, parse_timestamp

Scalar = str | int | float | bool | None

KNOWN_FIELDS: Final = frozenset(
    {"device_imei", "device_ip", "firmware_version", "mqtt_status", "sftp_status", "timestamp"}
)
MAX_EXTRA_KEYS: Final = 32
MAX_EXTRA_KEY_LEN: Final = 64
MAX_EXTRA_STR_LEN: Final = 256
_IMEI_RE: Final = re.compile(r"[0-9]{14,17}")
_STATUS_WORDS: Final = {"connected": True, "ok": True, "disconnected": False, "error": False}


@dataclass(frozen=True, slots=True)
class DeviceInfoMessage:
    """What a meter reports about itself; `extra` keeps the scalar fields we do not model."""

    device_uuid: str
    device_imei: str
    device_ip: str
    firmware_version: str
    mqtt_status: bool
    sftp_status: bool
    received_at: datetime
    timestamp: datetime | None = None
    extra: dict[str, Scalar] = field(default_factory=dict)


def parse_device_info(
    device_uuid: str, data: object, *, received_at: datetime
) -> DeviceInfoMessage:
    """Validate a decoded device_info payload; raise ContractError naming the first bad field."""
    obj = _checks.require_object(data, "device_info payload")
    imei = _checks.string(obj, "device_imei", "", 17)
    if _IMEI_RE.fullmatch(imei) is None:
        raise field_error("device_imei", f"{short_repr(imei)} is not 14-17 digits")
    raw_time = obj.get("timestamp")
    return DeviceInfoMessage(
        device_uuid=device_uuid,
        device_imei=imei,
        device_ip=_ip(obj),
        firmware_version=_checks.string(obj, "firmware_version", "", 64),
        mqtt_status=_status(obj, "mqtt_status"),
        sftp_status=_status(obj, "sftp_status"),
        received_at=as_utc(received_at),
        timestamp=None if raw_time is None else parse_timestamp(raw_time, received_at=received_at),
        extra=_extra(obj),
    )


def _ip(obj: dict[str, Any]) -> str:
    text = _checks.string(obj, "device_ip", "", 64)
    try:
        return ipaddress.ip_address(text).compressed
    except ValueError:
        raise field_error("device_ip", f"{short_repr(text)} is not an IP address") from None


def _status(obj: dict[str, Any], key: str) -> bool:
    value = obj.get(key)
    if type(value) is bool:
        return value
    if type(value) is str and value.lower() in _STATUS_WORDS:
        return _STATUS_WORDS[value.lower()]
    if key not in obj:
        raise field_error(key, "required", missing=True)
    raise field_error(
        key, f"must be a boolean or connected/disconnected/ok/error, got {short_repr(value)}"
    )


def _extra(obj: dict[str, Any]) -> dict[str, Scalar]:
    """Keep unknown scalar fields whose names are safe as Mongo keys; at most 32 of them."""
    extra: dict[str, Scalar] = {}
    for key, value in obj.items():
        if len(extra) >= MAX_EXTRA_KEYS:
            break
        if key in KNOWN_FIELDS or not _safe_key(key):
            continue
        if type(value) is str and len(value) > MAX_EXTRA_STR_LEN:
            continue
        if value is None or type(value) in (str, int, float, bool):
            extra[key] = value
    return extra


def _safe_key(key: str) -> bool:
    return (
        0 < len(key) <= MAX_EXTRA_KEY_LEN and key[0] != "$" and "." not in key and "\x00" not in key
    )
