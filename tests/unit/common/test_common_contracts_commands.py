from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from msm_common.contracts import (
    SECRET_FIELDS,
    CommandRequest,
    CommandType,
    ContractError,
    DeviceCommand,
    MqttParams,
    NtpParams,
    RebootParams,
    SftpParams,
    params_model_for,
    strip_secrets,
    validate_params,
)
from pydantic import ValidationError

NOW = datetime(2025, 6, 1, 12, 0, 0, 123456, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)

MQTT = {
    "broker_ip": "broker.example.com",
    "broker_port": 8883,
    "broker_user": "meter",
    "broker_password": "s3cret",
    "data_interval": 60,
}
SFTP = {
    "server_ip": "192.0.2.7",
    "server_port": 22,
    "username": "meter",
    "password": "hunter2",
    "data_interval": 3600,
}
VALID_PARAMS: list[tuple[str, dict[str, Any]]] = [
    ("reboot", {}),
    ("reboot", {"delay_s": 30}),
    ("ntp", {"server_1": "pool.ntp.org"}),
    ("ntp", {"server_1": "10.0.0.1", "server_2": "time.google.com", "server_3": "2001:db8::1"}),
    ("mqtt", MQTT),
    ("sftp", SFTP),
]


def test_params_model_for_each_type() -> None:
    assert params_model_for("reboot") is RebootParams
    assert params_model_for(CommandType.NTP) is NtpParams
    assert params_model_for("mqtt") is MqttParams
    assert params_model_for("sftp") is SftpParams
    with pytest.raises(ContractError):
        params_model_for("firmware")


@pytest.mark.parametrize(("type_", "params"), VALID_PARAMS)
def test_valid_params(type_: str, params: dict[str, Any]) -> None:
    model = validate_params(type_, params)
    assert isinstance(model, params_model_for(type_))
    assert model.model_dump(exclude_none=True) == params


@pytest.mark.parametrize(
    ("type_", "params", "reason", "field"),
    [
        ("reboot", {"delay_s": -1}, "field_invalid", "delay_s"),
        ("reboot", {"delay_s": 86_401}, "field_invalid", "delay_s"),
        ("reboot", {"delay_s": "5"}, "field_invalid", "delay_s"),
        ("reboot", {"delay_s": True}, "field_invalid", "delay_s"),
        ("reboot", {"now": True}, "unknown_field", "now"),
        ("ntp", {}, "field_missing", "server_1"),
        ("ntp", {"server_1": ""}, "field_invalid", "server_1"),
        ("ntp", {"server_1": "bad host"}, "field_invalid", "server_1"),
        ("ntp", {"server_1": "-bad.example"}, "field_invalid", "server_1"),
        ("ntp", {"server_1": "1.2.3.999"}, "field_invalid", "server_1"),
        ("ntp", {"server_1": "a" * 64 + ".com"}, "field_invalid", "server_1"),
        ("ntp", {"server_1": ".".join(["a" * 60] * 5)}, "field_invalid", "server_1"),
        ("ntp", {"server_1": 123}, "field_invalid", "server_1"),
        ("ntp", {"server_1": "pool.ntp.org", "server_4": "x"}, "unknown_field", "server_4"),
        ("mqtt", {**MQTT, "broker_port": 0}, "field_invalid", "broker_port"),
        ("mqtt", {**MQTT, "broker_port": 65536}, "field_invalid", "broker_port"),
        ("mqtt", {**MQTT, "broker_port": "1883"}, "field_invalid", "broker_port"),
        ("mqtt", {**MQTT, "data_interval": 0}, "field_invalid", "data_interval"),
        ("mqtt", {**MQTT, "data_interval": 1.5}, "field_invalid", "data_interval"),
        ("mqtt", {**MQTT, "broker_user": ""}, "field_invalid", "broker_user"),
        ("mqtt", {**MQTT, "broker_password": "x" * 257}, "field_invalid", "broker_password"),
        ("mqtt", {k: v for k, v in MQTT.items() if k != "broker_ip"}, "field_missing", "broker_ip"),
        ("mqtt", {**MQTT, "tls": True}, "unknown_field", "tls"),
        ("sftp", {**SFTP, "server_ip": "not_a_host!"}, "field_invalid", "server_ip"),
        ("sftp", {**SFTP, "password": None}, "field_invalid", "password"),
        ("sftp", {**MQTT}, "field_missing", "server_ip"),
    ],
)
def test_invalid_params_name_the_field(
    type_: str, params: dict[str, Any], reason: str, field: str
) -> None:
    with pytest.raises(ContractError) as info:
        validate_params(type_, params)
    assert (info.value.reason, info.value.field) == (reason, field)
    assert field in info.value.detail


def test_params_must_be_an_object() -> None:
    with pytest.raises(ContractError) as info:
        validate_params("ntp", ["pool.ntp.org"])  # type: ignore[arg-type]
    assert info.value.reason == "not_an_object"


def test_secrets() -> None:
    assert {"mqtt": {"broker_password"}, "sftp": {"password"}} == SECRET_FIELDS
    assert "broker_password" not in strip_secrets("mqtt", MQTT)
    assert "password" not in strip_secrets(CommandType.SFTP, SFTP)
    assert strip_secrets("ntp", {"server_1": "x"}) == {"server_1": "x"}
    assert "s3cret" not in repr(validate_params("mqtt", MQTT))
    assert "hunter2" not in repr(validate_params("sftp", SFTP))


# --- the device command ---------------------------------------------------------------------


@pytest.mark.parametrize(("type_", "params"), VALID_PARAMS)
def test_device_command_round_trip(type_: str, params: dict[str, Any]) -> None:
    command = DeviceCommand(
        command_id="0b7c1e0e-2a43-4f0e-9a8e-3f0f1c2d3e4f",
        type=CommandType(type_),
        issued_at=NOW,
        expires_at=LATER,
        params=validate_params(type_, params),
    )
    payload = command.to_payload()
    assert orjson.loads(payload) == {
        "command_id": "0b7c1e0e-2a43-4f0e-9a8e-3f0f1c2d3e4f",
        "type": type_,
        "origin": "cloud",
        "issued_at": "2025-06-01T12:00:00.123Z",
        "expires_at": "2025-06-01T13:00:00.123Z",
        **params,
    }
    assert DeviceCommand.from_payload(payload) == command


def test_device_command_keeps_secrets_out_of_repr() -> None:
    command = DeviceCommand(
        command_id="c", type="mqtt", issued_at=NOW, expires_at=LATER, params=MqttParams(**MQTT)
    )
    assert "s3cret" not in repr(command)
    assert b"s3cret" in command.to_payload()


def test_device_command_params_must_match_type() -> None:
    with pytest.raises(ValidationError):
        DeviceCommand(
            command_id="c",
            type="reboot",
            issued_at=NOW,
            expires_at=LATER,
            params=NtpParams(server_1="x.org"),
        )
    with pytest.raises(ValidationError):
        DeviceCommand(
            command_id="c", type="reboot", issued_at=LATER, expires_at=NOW, params=RebootParams()
        )


@pytest.mark.parametrize(
    ("payload", "reason", "field"),
    [
        (b'{"command_id":"c","type":"format","origin":"cloud"}', "field_invalid", "type"),
        (
            b'{"command_id":"c","type":"ntp","origin":"cloud","issued_at":"2025-06-01T12:00:00Z",'
            b'"expires_at":"2025-06-01T13:00:00Z","server_1":"x.org","extra":1}',
            "unknown_field",
            "extra",
        ),
        (
            b'{"command_id":"c","type":"ntp","origin":"device","issued_at":"2025-06-01T12:00:00Z",'
            b'"expires_at":"2025-06-01T13:00:00Z","server_1":"x.org"}',
            "field_invalid",
            "origin",
        ),
        (
            b'{"command_id":"c c","type":"reboot","origin":"cloud",'
            b'"issued_at":"2025-06-01T12:00:00Z","expires_at":"2025-06-01T13:00:00Z"}',
            "field_invalid",
            "command_id",
        ),
        (
            b'{"command_id":"c","type":"reboot","issued_at":"2025-06-01T12:00:00Z"}',
            "field_missing",
            "expires_at",
        ),
        (b"[]", "not_an_object", None),
    ],
)
def test_device_command_from_bad_payload(payload: bytes, reason: str, field: str | None) -> None:
    with pytest.raises(ContractError) as info:
        DeviceCommand.from_payload(payload)
    assert (info.value.reason, info.value.field) == (reason, field)


# --- the command request (API -> commander over AMQP) ---------------------------------------


def request(**overrides: Any) -> CommandRequest:
    fields: dict[str, Any] = {
        "command_id": "cmd-1",
        "device_uuid": "dev-1",
        "type": "mqtt",
        "params": MQTT,
        "requested_by": "alice",
        "requested_at": NOW,
        "expires_at": LATER,
        "idempotency_key": "idem-1",
    }
    fields.update(overrides)
    return CommandRequest(**fields)


def test_command_request_round_trip() -> None:
    original = request()
    body = orjson.loads(original.to_json())
    assert body["requested_at"] == "2025-06-01T12:00:00.123Z"
    assert body["params"] == MQTT
    assert CommandRequest.from_json(original.to_json()) == original
    minimal = request(type="reboot", params={}, idempotency_key=None)
    assert "idempotency_key" not in orjson.loads(minimal.to_json())
    assert CommandRequest.from_json(minimal.to_json()) == minimal


def test_command_request_normalises_params_and_hides_them_from_repr() -> None:
    req = request(type="ntp", params={"server_1": "2001:0db8::0001", "server_2": None})
    assert req.params == {"server_1": "2001:db8::1"}
    assert "s3cret" not in repr(request())


def test_command_request_becomes_a_device_command() -> None:
    command = request().to_device_command(issued_at=NOW + timedelta(seconds=5))
    assert command.command_id == "cmd-1"
    assert command.type is CommandType.MQTT
    assert command.expires_at == LATER.replace(microsecond=123000)
    assert command.params == MqttParams(**MQTT)


@pytest.mark.parametrize(
    ("overrides", "reason", "field"),
    [
        ({"params": {**MQTT, "broker_port": 0}}, "field_invalid", "params.broker_port"),
        ({"params": {**MQTT, "qos": 1}}, "unknown_field", "params.qos"),
        ({"type": "ntp", "params": {}}, "field_missing", "params.server_1"),
        ({"type": "upgrade"}, "field_invalid", "type"),
        ({"device_uuid": "dev/1"}, "field_invalid", "device_uuid"),
        ({"device_uuid": "+"}, "field_invalid", "device_uuid"),
        ({"requested_by": ""}, "field_invalid", "requested_by"),
        ({"expires_at": "2025-06-01T11:00:00Z"}, "field_invalid", None),
        ({"surprise": 1}, "unknown_field", "surprise"),
    ],
)
def test_command_request_from_bad_json(
    overrides: dict[str, Any], reason: str, field: str | None
) -> None:
    body = orjson.loads(request().to_json())
    body.update(overrides)
    with pytest.raises(ContractError) as info:
        CommandRequest.from_json(orjson.dumps(body))
    assert (info.value.reason, info.value.field) == (reason, field)


def test_command_request_rejects_garbage() -> None:
    for payload in (b"", b"\xff", b"[1]", b"{" * 5000):
        with pytest.raises(ContractError):
            CommandRequest.from_json(payload)
