from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from msm_common.contracts import ContractError, DeviceInfoMessage
from msm_common.device_messages import parse_device_message

NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)


def info(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "device_imei": "356938035643809",
        "device_ip": "10.0.0.5",
        "firmware_version": "2.1.0",
        "mqtt_status": True,
        "sftp_status": False,
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not ...}


def parse(body: object) -> DeviceInfoMessage:
    result = parse_device_message("msm/dev-1/device_info", orjson.dumps(body), received_at=NOW)
    assert isinstance(result, DeviceInfoMessage)
    return result


def test_seed_fields() -> None:
    assert parse(info()) == DeviceInfoMessage(
        device_uuid="dev-1",
        device_imei="356938035643809",
        device_ip="10.0.0.5",
        firmware_version="2.1.0",
        mqtt_status=True,
        sftp_status=False,
        received_at=NOW,
        timestamp=None,
        extra={},
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("connected", True), ("OK", True), ("disconnected", False), ("Error", False)],
)
def test_status_words(raw: str, expected: bool) -> None:
    assert parse(info(mqtt_status=raw)).mqtt_status is expected


def test_ipv6_is_normalised_and_timestamp_is_read() -> None:
    message = parse(info(device_ip="2001:0db8:0000::0001", timestamp=1748779198))
    assert message.device_ip == "2001:db8::1"
    assert message.timestamp == datetime(2025, 6, 1, 11, 59, 58, tzinfo=UTC)


def test_unknown_scalar_fields_are_kept_in_extra_and_capped() -> None:
    unknown = {f"k{i:02}": i for i in range(40)}
    message = parse(
        info(
            rssi=-70,
            hw="rev-b",
            battery=None,
            ok=True,
            nested={"a": 1},
            items=[1],
            **{"$where": "x", "a.b": 1, "long": "x" * 300, "k" * 65: 1},
            **unknown,
        )
    )
    assert message.extra["rssi"] == -70
    assert message.extra["hw"] == "rev-b"
    assert message.extra["battery"] is None
    assert message.extra["ok"] is True
    for dropped in ("nested", "items", "$where", "a.b", "long", "k" * 65, "device_ip"):
        assert dropped not in message.extra
    assert len(message.extra) == 32


@pytest.mark.parametrize(
    ("body", "reason", "field"),
    [
        (info(device_imei=...), "field_missing", "device_imei"),
        (info(device_imei=356938035643809), "field_invalid", "device_imei"),
        (info(device_imei="35693803564380"), None, None),  # 14 digits is accepted
        (info(device_imei="3569380356438"), "field_invalid", "device_imei"),
        (info(device_imei="35693803564380912"), None, None),  # 17 digits is accepted
        (info(device_imei="356938035643809123"), "field_invalid", "device_imei"),
        (info(device_imei="35693803564380A"), "field_invalid", "device_imei"),
        (info(device_ip="10.0.0.256"), "field_invalid", "device_ip"),
        (info(device_ip="localhost"), "field_invalid", "device_ip"),
        (info(device_ip=None), "field_invalid", "device_ip"),
        (info(device_ip=...), "field_missing", "device_ip"),
        (info(firmware_version=""), "field_invalid", "firmware_version"),
        (info(firmware_version="v" * 65), "field_invalid", "firmware_version"),
        (info(firmware_version=2), "field_invalid", "firmware_version"),
        (info(mqtt_status="maybe"), "field_invalid", "mqtt_status"),
        (info(mqtt_status=1), "field_invalid", "mqtt_status"),
        (info(sftp_status=...), "field_missing", "sftp_status"),
        (info(timestamp="2001-01-01T00:00:00Z"), "timestamp_out_of_range", "timestamp"),
        (info(timestamp=False), "field_invalid", "timestamp"),
    ],
)
def test_validation(body: object, reason: str | None, field: str | None) -> None:
    if reason is None:
        parse(body)
        return
    with pytest.raises(ContractError) as info_:
        parse(body)
    assert (info_.value.reason, info_.value.field) == (reason, field)
