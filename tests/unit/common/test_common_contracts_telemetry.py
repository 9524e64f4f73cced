from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from msm_common.contracts import (
    ContractError,
    Reading,
    TelemetryMessage,
    parse_telemetry,
)
from msm_common.device_messages import parse_device_message

NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)
TS = "2025-06-01T11:59:58.123Z"
AT = datetime(2025, 6, 1, 11, 59, 58, 123000, tzinfo=UTC)


# One reading's channel and measured values, as the meter sends them and as they are stored.
MEASURED: dict[str, Any] = {
    "channel_id": 1,
    "phase": "A",
    "temperature": 31.5,
    "line_voltage": 230.1,
    "current": 5.25,
    "active_power": 1180.4,
    "reactive_power": 42.0,
}


def reading(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"timestamp": TS, **MEASURED}
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not ...}


def parse(body: object, device: str = "dev-1") -> TelemetryMessage:
    result = parse_device_message(f"msm/{device}/telemetry", orjson.dumps(body), received_at=NOW)
    assert isinstance(result, TelemetryMessage)
    return result


def rejected(body: object) -> ContractError:
    with pytest.raises(ContractError) as info:
        parse(body)
    return info.value


def test_single_reading_at_top_level() -> None:
    message = parse(reading())
    assert message == TelemetryMessage(
        "dev-1", (Reading("dev-1", AT, 1, "A", 31.5, 230.1, 5.25, 1180.4, 42.0),)
    )


def test_batch_with_shared_timestamp_and_per_reading_override() -> None:
    body = {
        "timestamp": TS,
        "readings": [
            reading(phase="L1", timestamp=...),
            reading(phase="L2", timestamp=...),
            reading(phase="L3", timestamp=1748779200000),
        ],
    }
    message = parse(body)
    assert [r.phase for r in message.readings] == ["A", "B", "C"]
    assert [r.timestamp for r in message.readings][:2] == [AT, AT]
    assert message.readings[2].timestamp == datetime(2025, 6, 1, 12, tzinfo=UTC)


def test_integers_become_floats_and_unknown_fields_are_ignored() -> None:
    message = parse(reading(temperature=20, line_voltage=0, energy_kwh=12.5, note="fw 2.1"))
    assert message.readings[0].temperature == 20.0
    assert isinstance(message.readings[0].temperature, float)


def test_export_power_is_negative() -> None:
    message = parse(reading(active_power=-2500.0, reactive_power=-10))
    assert message.readings[0].active_power == -2500.0


def test_duplicate_readings_in_one_batch_are_dropped() -> None:
    body = {"timestamp": TS, "readings": [reading(timestamp=...), reading(current=9.0)]}
    message = parse(body)
    assert len(message.readings) == 1
    assert message.readings[0].current == 5.25


def test_reading_id_is_deterministic_from_device_channel_phase_and_time() -> None:
    first = parse(reading(phase="L2")).readings[0]
    again = parse(reading(phase="B", timestamp=1748779198.123)).readings[0]
    assert first.reading_id == again.reading_id == "dev-1:1:B:1748779198123"
    other_phase = parse(reading(phase="C")).readings[0]
    assert other_phase.reading_id != first.reading_id


def test_document_and_event_data() -> None:
    r = parse(reading()).readings[0]
    document = r.to_document()
    assert document == {
        "_id": "dev-1:1:A:1748779198123",
        "device_uuid": "dev-1",
        "timestamp": AT,
        **MEASURED,
        "processed": True,
    }
    assert r.to_document("dev-1") == document
    with pytest.raises(ValueError, match="belongs to"):
        r.to_document("dev-2")
    entry = r.to_event_entry()
    assert entry["reading_id"] == document["_id"]
    measures = {"temperature", "line_voltage", "current", "active_power", "reactive_power"}
    assert set(entry) == {"reading_id", "channel_id", "phase", *measures}
    orjson.dumps(entry)


def test_parse_telemetry_takes_decoded_json() -> None:
    message = parse_telemetry("d", reading(), received_at=NOW)
    assert message.readings[0].device_uuid == "d"


def test_sixty_four_readings_is_the_limit() -> None:
    ok = {"timestamp": TS, "readings": [reading(channel_id=i % 65, phase="A") for i in range(64)]}
    assert len(parse(ok).readings) == 64
    too_many = {"timestamp": TS, "readings": [reading(channel_id=0)] * 65}
    assert rejected(too_many).field == "readings"


@pytest.mark.parametrize(
    ("body", "reason", "field"),
    [
        (reading(timestamp=...), "field_missing", "timestamp"),
        (reading(timestamp=None), "field_missing", "timestamp"),
        (reading(timestamp="2014-01-01T00:00:00Z"), "timestamp_out_of_range", "timestamp"),
        (reading(timestamp="2025-06-03T00:00:00Z"), "timestamp_out_of_range", "timestamp"),
        (reading(timestamp=True), "field_invalid", "timestamp"),
        (reading(channel_id=...), "field_missing", "channel_id"),
        (reading(channel_id=-1), "field_invalid", "channel_id"),
        (reading(channel_id=65), "field_invalid", "channel_id"),
        (reading(channel_id=1.0), "field_invalid", "channel_id"),
        (reading(channel_id="1"), "field_invalid", "channel_id"),
        (reading(channel_id=True), "field_invalid", "channel_id"),
        (reading(phase=...), "field_missing", "phase"),
        (reading(phase="N"), "field_invalid", "phase"),
        (reading(phase="a"), "field_invalid", "phase"),
        (reading(phase="L4"), "field_invalid", "phase"),
        (reading(phase=1), "field_invalid", "phase"),
        (reading(temperature=...), "field_missing", "temperature"),
        (reading(temperature=True), "field_invalid", "temperature"),
        (reading(temperature=False), "field_invalid", "temperature"),
        (reading(temperature="31.5"), "field_invalid", "temperature"),
        (reading(temperature=None), "field_invalid", "temperature"),
        (reading(temperature=-40.1), "field_invalid", "temperature"),
        (reading(temperature=150.1), "field_invalid", "temperature"),
        (reading(line_voltage=-0.1), "field_invalid", "line_voltage"),
        (reading(line_voltage=1000.5), "field_invalid", "line_voltage"),
        (reading(current=-1), "field_invalid", "current"),
        (reading(current=10_001), "field_invalid", "current"),
        (reading(active_power=1e8), "field_invalid", "active_power"),
        (reading(reactive_power=-1e8), "field_invalid", "reactive_power"),
        (reading(reactive_power=[1]), "field_invalid", "reactive_power"),
        (reading(current=1e20), "field_invalid", "current"),
        ({"readings": []}, "field_invalid", "readings"),
        ({"readings": {}}, "field_invalid", "readings"),
        ({"readings": None}, "field_invalid", "readings"),
        ({"timestamp": TS, "readings": [1]}, "field_invalid", "readings[0]"),
        ({"readings": [reading(timestamp=...)]}, "field_missing", "readings[0].timestamp"),
        (
            {"timestamp": TS, "readings": [reading(), reading(phase="X")]},
            "field_invalid",
            "readings[1].phase",
        ),
        (
            {"timestamp": "bad", "readings": [reading()]},
            "field_invalid",
            "timestamp",
        ),
    ],
)
def test_invalid_readings_name_the_field(body: object, reason: str, field: str) -> None:
    error = rejected(body)
    assert (error.reason, error.field) == (reason, field)
    assert error.detail.startswith(field)


def test_error_detail_does_not_echo_huge_values() -> None:
    error = rejected(reading(phase="P" * 10_000))
    assert len(error.detail) < 200


def test_integer_literals_beyond_64_bits_are_out_of_range() -> None:
    payload = orjson.dumps(reading()).replace(b'"current":5.25', b'"current":' + b"9" * 400)
    with pytest.raises(ContractError) as info:
        parse_device_message("msm/d/telemetry", payload, received_at=NOW)
    assert info.value.reason in {"field_invalid", "non_finite_number"}
