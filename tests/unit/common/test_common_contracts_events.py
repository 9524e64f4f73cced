from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest
from msm_common.contracts import (
    COMMAND_REQUEST_ROUTING_KEY,
    COMMANDS_EXCHANGE,
    DEAD_LETTER_EXCHANGE,
    EVENTS_EXCHANGE,
    TELEMETRY_RECEIVED,
    CloudEvent,
    ContractError,
    TelemetryMessage,
    events,
    make_event,
    routing_key,
    telemetry_event,
)
from msm_common.device_messages import parse_device_message

NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)


def test_amqp_names() -> None:
    assert (EVENTS_EXCHANGE, events.EVENTS_EXCHANGE_TYPE) == ("msm.events", "topic")
    assert (COMMANDS_EXCHANGE, events.COMMANDS_EXCHANGE_TYPE) == ("msm.commands", "direct")
    assert COMMAND_REQUEST_ROUTING_KEY == "command.request"
    assert DEAD_LETTER_EXCHANGE == "msm.dlx"


@pytest.mark.parametrize(
    ("event_type", "expected"),
    [
        (events.TELEMETRY_RECEIVED, "telemetry.received.dev-1"),
        (events.DEVICE_INFO, "device.info.dev-1"),
        (events.DEVICE_PRESENCE, "device.presence.dev-1"),
        (events.COMMAND_ACK, "command.ack.dev-1"),
        (events.COMMAND_STATUS, "command.status.dev-1"),
        (events.DEVICE_PROVISIONED, "device.provisioned.dev-1"),
    ],
)
def test_routing_keys(event_type: str, expected: str) -> None:
    assert routing_key(event_type, "dev-1") == expected


def test_routing_key_validates_its_parts() -> None:
    assert routing_key("msm.command.status", "d") == "command.status.d"
    with pytest.raises(ValueError):
        routing_key("msm.unknown", "d")
    for bad in ("a.b", "*", "#", ""):
        with pytest.raises(ContractError):
            routing_key(TELEMETRY_RECEIVED, bad)


def test_event_json_round_trip() -> None:
    event = make_event(
        "msm.command.status",
        "/msm/commander",
        "dev-1",
        {"command_id": "c", "status": "sent"},
        time=NOW.astimezone(timezone(timedelta(hours=2))),
    )
    body = orjson.loads(event.to_json())
    assert body == {
        "specversion": "1.0",
        "id": event.id,
        "source": "/msm/commander",
        "type": "msm.command.status",
        "subject": "dev-1",
        "time": "2025-06-01T12:00:00.000Z",
        "datacontenttype": "application/json",
        "data": {"command_id": "c", "status": "sent"},
    }
    assert CloudEvent.from_json(event.to_json()) == event
    assert event.time.tzinfo is UTC
    assert event.routing_key == "command.status.dev-1"


def test_event_ids_are_unique_unless_given() -> None:
    first = make_event("msm.device.info", "/msm/ingest", "d", {}, time=NOW)
    second = make_event("msm.device.info", "/msm/ingest", "d", {}, time=NOW)
    assert first.id != second.id
    assert make_event("msm.device.info", "s", "d", {}, id="fixed", time=NOW).id == "fixed"


def test_telemetry_events_carry_the_reading_id() -> None:
    payload = orjson.dumps(
        {
            "timestamp": "2025-06-01T11:59:58Z",
            "readings": [
                {
                    "channel_id": 2,
                    "phase": phase,
                    "temperature": 30,
                    "line_voltage": 230,
                    "current": 1,
                    "active_power": 230,
                    "reactive_power": 0,
                }
                for phase in ("A", "B", "C")
            ],
        }
    )
    message = parse_device_message("msm/dev-1/telemetry", payload, received_at=NOW)
    assert isinstance(message, TelemetryMessage)
    event = telemetry_event(message.readings, source="/msm/ingest")
    assert event.routing_key == "telemetry.received.dev-1"
    data = orjson.loads(event.to_json())["data"]
    assert data["device_uuid"] == "dev-1"
    assert data["timestamp"] == "2025-06-01T11:59:58.000Z"
    assert [r["reading_id"] for r in data["readings"]] == [
        "dev-1:2:A:1748779198000",
        "dev-1:2:B:1748779198000",
        "dev-1:2:C:1748779198000",
    ]
    assert [r["phase"] for r in data["readings"]] == ["A", "B", "C"]
    # The id depends on which readings, not on their order: a redelivery dedupes.
    assert event.id == telemetry_event(message.readings[::-1], source="x").id
    assert event.id != telemetry_event(message.readings[:2], source="/msm/ingest").id


def test_a_telemetry_event_holds_one_device_at_one_instant() -> None:
    payload = orjson.dumps(
        {
            "readings": [
                {
                    "timestamp": ts,
                    "channel_id": 0,
                    "phase": "A",
                    "temperature": 30,
                    "line_voltage": 230,
                    "current": 1,
                    "active_power": 230,
                    "reactive_power": 0,
                }
                for ts in ("2025-06-01T11:59:58Z", "2025-06-01T11:59:59Z")
            ],
        }
    )
    message = parse_device_message("msm/dev-1/telemetry", payload, received_at=NOW)
    assert isinstance(message, TelemetryMessage)
    with pytest.raises(ValueError, match="one instant"):
        telemetry_event(message.readings, source="s")
    with pytest.raises(ValueError, match="at least one"):
        telemetry_event((), source="s")


def test_extension_attributes_from_other_producers_are_tolerated() -> None:
    body = orjson.loads(make_event("msm.device.info", "s", "d", None, time=NOW).to_json())
    body["traceparent"] = "00-abc-def-01"
    assert CloudEvent.from_json(orjson.dumps(body)).type == "msm.device.info"


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda b: b.update(specversion="0.3"), "specversion"),
        (lambda b: b.pop("id"), "id"),
        (lambda b: b.update(id=""), "id"),
        (lambda b: b.pop("time"), "time"),
        (lambda b: b.update(time="yesterday"), "time"),
        (lambda b: b.update(datacontenttype="text/plain"), "datacontenttype"),
        (lambda b: b.update(source=5), "source"),
    ],
)
def test_bad_events(mutate, field: str) -> None:  # type: ignore[no-untyped-def]
    body = orjson.loads(make_event("msm.device.info", "s", "d", {}, time=NOW).to_json())
    mutate(body)
    with pytest.raises(ContractError) as info:
        CloudEvent.from_json(orjson.dumps(body))
    assert info.value.field == field


def test_event_from_garbage() -> None:
    for payload in (b"", b"null", b"[" * 3000, b"\xff"):
        with pytest.raises(ContractError):
            CloudEvent.from_json(payload)
