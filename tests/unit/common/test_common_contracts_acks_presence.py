from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from msm_common import topics
from msm_common.contracts import (
    AckStatus,
    CloudCommandEcho,
    CommandAck,
    CommandType,
    ContractError,
    DeviceCommand,
    NtpParams,
    PresenceEvent,
)
from msm_common.device_messages import parse_device_message

NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)


def on_topic(topic: str, payload: bytes) -> object:
    return parse_device_message(topic, payload, received_at=NOW)


def ack(command_type: str, payload: bytes) -> CommandAck:
    result = on_topic(f"msm/dev-1/{command_type}", payload)
    assert isinstance(result, CommandAck)
    return result


@pytest.mark.parametrize("command_type", [t.value for t in CommandType])
def test_ack_on_each_command_topic(command_type: str) -> None:
    payload = b'{"command_id": "c-1", "status": "success", "message": "done"}'
    assert ack(command_type, payload) == CommandAck(
        device_uuid="dev-1",
        command_type=CommandType(command_type),
        command_id="c-1",
        status=AckStatus.SUCCESS,
        message="done",
        received_at=NOW,
    )


@pytest.mark.parametrize(
    ("payload", "command_id", "status"),
    [
        (b'{"command_id": "c", "status": "failed"}', "c", AckStatus.FAILED),
        (b'{"command_id": "c", "status": "rejected"}', "c", AckStatus.REJECTED),
        (b'{"command_id": "c", "status": "in_progress"}', "c", AckStatus.IN_PROGRESS),
        (b'{"command_id": "c", "status": "SUCCESS"}', "c", AckStatus.SUCCESS),
        # Legacy acks: no command id, and the status alone or as a bare word.
        (b'{"status": "ok"}', None, AckStatus.SUCCESS),
        (b'{"status": "OK"}', None, AckStatus.SUCCESS),
        (b'{"status": "success"}', None, AckStatus.SUCCESS),
        (b'{"status": "error"}', None, AckStatus.FAILED),
        (b'{"status": "fail"}', None, AckStatus.FAILED),
        (b'"OK"', None, AckStatus.SUCCESS),
        (b'"success"', None, AckStatus.SUCCESS),
        (b"OK", None, AckStatus.SUCCESS),
        (b"ok\n", None, AckStatus.SUCCESS),
        (b"error", None, AckStatus.FAILED),
    ],
)
def test_ack_statuses_with_and_without_a_command_id(
    payload: bytes, command_id: str | None, status: AckStatus
) -> None:
    result = ack("reboot", payload)
    assert result.command_id == command_id
    assert result.status is status


def test_long_ack_message_is_truncated() -> None:
    payload = orjson.dumps({"command_id": "c", "status": "failed", "message": "e" * 5000})
    assert len(ack("sftp", payload).message or "") == 1024


def test_our_own_command_is_recognised_as_an_echo() -> None:
    command = DeviceCommand(
        command_id="c-9",
        type=CommandType.NTP,
        issued_at=NOW,
        expires_at=NOW.replace(hour=13),
        params=NtpParams(server_1="pool.ntp.org"),
    )
    result = on_topic(topics.command("dev-1", "ntp"), command.to_payload())
    assert result == CloudCommandEcho("dev-1", CommandType.NTP, "c-9")


@pytest.mark.parametrize(
    ("payload", "reason", "field"),
    [
        (b'{"command_id": "c"}', "field_missing", "status"),
        (b'{"command_id": "c", "status": "done"}', "field_invalid", "status"),
        (b'{"command_id": "c", "status": 1}', "field_invalid", "status"),
        (b'{"command_id": "c", "status": null}', "field_invalid", "status"),
        (b'{"command_id": 5, "status": "ok"}', "field_invalid", "command_id"),
        (b'{"command_id": "", "status": "ok"}', "field_invalid", "command_id"),
        (b'{"command_id": "c", "status": "ok", "message": 3}', "field_invalid", "message"),
        (b'"maybe"', "field_invalid", "status"),
        (b"maybe", "field_invalid", "status"),
        (b"not json at all", "invalid_json", None),
        (b"[1]", "not_an_object", None),
    ],
)
def test_bad_acks(payload: bytes, reason: str, field: str | None) -> None:
    with pytest.raises(ContractError) as info:
        on_topic("msm/dev-1/mqtt", payload)
    assert (info.value.reason, info.value.field) == (reason, field)


# --- presence -----------------------------------------------------------------------------------


def lifecycle(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "clientId": "dev-1",
        "timestamp": 1748779198123,
        "eventType": "connected",
        "sessionIdentifier": "00000000-0000-0000-0000-000000000000",
        "principalIdentifier": "12345678901234567890123456789012",
        "ipAddress": "192.0.2.10",
        "versionNumber": 7,
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not ...}


def presence(event: str, body: object, client: str = "dev-1") -> PresenceEvent:
    result = on_topic(topics.presence(client, event), orjson.dumps(body))
    assert isinstance(result, PresenceEvent)
    return result


def test_connected_event() -> None:
    event = presence("connected", lifecycle())
    assert event == PresenceEvent(
        client_id="dev-1",
        connected=True,
        timestamp=datetime(2025, 6, 1, 11, 59, 58, 123000, tzinfo=UTC),
        version_number=7,
        disconnect_reason=None,
        session_identifier="00000000-0000-0000-0000-000000000000",
        principal_identifier="12345678901234567890123456789012",
        ip_address="192.0.2.10",
    )


def test_disconnected_event_with_reason() -> None:
    body = lifecycle(eventType="disconnected", disconnectReason="MQTT_KEEP_ALIVE_TIMEOUT")
    event = presence("disconnected", body)
    assert event.connected is False
    assert event.disconnect_reason == "MQTT_KEEP_ALIVE_TIMEOUT"


def test_presence_payload_round_trip() -> None:
    for body in (
        lifecycle(),
        lifecycle(eventType="disconnected", disconnectReason="SERVER_INITIATED_DISCONNECT"),
    ):
        event = presence(str(body["eventType"]), body)
        assert orjson.loads(event.to_payload()) == body
        assert presence(event.event_type, orjson.loads(event.to_payload())) == event


def test_presence_to_payload_defaults_a_disconnect_reason() -> None:
    event = PresenceEvent("dev-1", False, datetime(2025, 6, 1, tzinfo=UTC), 2)
    body = orjson.loads(event.to_payload())
    assert body == {
        "clientId": "dev-1",
        "timestamp": 1748736000000,
        "eventType": "disconnected",
        "versionNumber": 2,
        "disconnectReason": "CLIENT_INITIATED_DISCONNECT",
    }


@pytest.mark.parametrize(
    ("event", "body", "reason", "field"),
    [
        ("disconnected", lifecycle(), "topic_mismatch", None),
        ("connected", lifecycle(clientId="dev-2"), "topic_mismatch", "clientId"),
        ("connected", lifecycle(eventType=...), "field_missing", "eventType"),
        ("connected", lifecycle(eventType="online"), "field_invalid", "eventType"),
        ("connected", lifecycle(clientId=...), "field_missing", "clientId"),
        ("connected", lifecycle(timestamp=...), "field_missing", "timestamp"),
        ("connected", lifecycle(timestamp=1), "timestamp_out_of_range", "timestamp"),
        ("connected", lifecycle(versionNumber=...), "field_missing", "versionNumber"),
        ("connected", lifecycle(versionNumber=-1), "field_invalid", "versionNumber"),
        ("connected", lifecycle(versionNumber="7"), "field_invalid", "versionNumber"),
        ("connected", lifecycle(sessionIdentifier=5), "field_invalid", "sessionIdentifier"),
    ],
)
def test_bad_presence_events(event: str, body: object, reason: str, field: str | None) -> None:
    with pytest.raises(ContractError) as info:
        presence(event, body)
    assert (info.value.reason, info.value.field) == (reason, field)
