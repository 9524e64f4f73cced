"""Whatever arrives, the parsers answer with a message or a ContractError, never anything else."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from msm_common import topics
from msm_common.contracts import (
    CloudEvent,
    CommandRequest,
    ContractError,
    DeviceCommand,
)
from msm_common.device_messages import parse_device_message

NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)
FUZZ = settings(
    max_examples=250,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
DEVICE_TOPICS = [
    "msm/dev-1/telemetry",
    "msm/dev-1/device_info",
    "msm/dev-1/reboot",
    "msm/dev-1/ntp",
    "msm/dev-1/mqtt",
    "msm/dev-1/sftp",
    "$aws/events/presence/connected/dev-1",
    "$aws/events/presence/disconnected/dev-1",
]

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    | st.sampled_from(
        [
            "A",
            "L2",
            "N",
            "ok",
            "OK",
            "error",
            "connected",
            "disconnected",
            "cloud",
            "success",
            "in_progress",
            "10.0.0.1",
            "::1",
            "356938035643809",
            "reboot",
            "ntp",
            "2025-06-01T11:59:58Z",
            "2025-06-01T11:59:58+14:00",
            "0001-01-01T00:00:00+01:00",
            "9999-12-31T23:59:59-23:59",
        ]
    )
    | st.sampled_from([1748779198, 1748779198123, 1748779198.5, 1e11, 1e300, -1e300, 0, 64])
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=6)
    ),
    max_leaves=30,
)
CONTRACT_KEYS = [
    "timestamp",
    "readings",
    "channel_id",
    "phase",
    "temperature",
    "line_voltage",
    "current",
    "active_power",
    "reactive_power",
    "device_imei",
    "device_ip",
    "firmware_version",
    "mqtt_status",
    "sftp_status",
    "command_id",
    "status",
    "message",
    "origin",
    "type",
    "clientId",
    "eventType",
    "versionNumber",
    "disconnectReason",
    "sessionIdentifier",
    "principalIdentifier",
    "ipAddress",
]
# Objects using the contract's own keys, so the fuzzing gets past the first field check.
field_values = st.recursive(
    scalars,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
    max_leaves=5,
)
contract_objects = st.dictionaries(st.sampled_from(CONTRACT_KEYS), field_values, max_size=12)
telemetry_batches = st.builds(
    lambda ts, items: {"timestamp": ts, "readings": items},
    field_values,
    st.lists(contract_objects, min_size=1, max_size=4),
)


def survives(topic: str, payload: bytes) -> None:
    try:
        parse_device_message(topic, payload, received_at=NOW)
    except ContractError as exc:
        assert exc.reason and exc.detail


# Each generated payload goes to every topic kind: generating is the slow part.


@FUZZ
@given(payload=st.binary(max_size=300))
def test_arbitrary_bytes(payload: bytes) -> None:
    for topic in DEVICE_TOPICS:
        survives(topic, payload)


@FUZZ
@given(value=json_values)
def test_arbitrary_json(value: Any) -> None:
    for topic in DEVICE_TOPICS:
        survives(topic, orjson.dumps(value))


@FUZZ
@given(value=contract_objects | telemetry_batches, with_client=st.booleans())
def test_objects_with_contract_keys(value: dict[str, Any], with_client: bool) -> None:
    if with_client:  # lets presence events get past the clientId check
        value = {**value, "clientId": "dev-1"}
    for topic in DEVICE_TOPICS:
        survives(topic, orjson.dumps(value))


@FUZZ
@given(
    topic=st.text(max_size=80)
    | st.lists(
        st.sampled_from(
            [
                "msm",
                "$aws",
                "things",
                "shadow",
                "name",
                "update",
                "accepted",
                "events",
                "presence",
                "connected",
                "thing",
                "created",
                "certificates",
                "create",
                "json",
                "provisioning-templates",
                "provision",
                "dev-1",
                "+",
                "#",
                "",
                "telemetry",
                "reboot",
            ]
        ),
        max_size=8,
    ).map("/".join)
)
def test_arbitrary_topics(topic: str) -> None:
    try:
        parsed = topics.parse(topic)
    except ContractError as exc:
        assert exc.reason == "unknown_topic"
        return
    assert parsed.kind in topics.TopicKind
    survives(topic, b"{}")


@FUZZ
@given(payload=st.binary(max_size=200) | json_values.map(orjson.dumps))
def test_other_parsers_raise_only_contract_errors(payload: bytes) -> None:
    for parse in (DeviceCommand.from_payload, CommandRequest.from_json, CloudEvent.from_json):
        with contextlib.suppress(ContractError):
            parse(payload)


@FUZZ
@given(
    value=st.fixed_dictionaries(
        {"command_id": st.text(max_size=10), "type": st.sampled_from(["ntp", "mqtt", "x"])},
        optional={
            "origin": json_values,
            "issued_at": json_values,
            "expires_at": json_values,
            "server_1": json_values,
            "broker_port": json_values,
            "params": json_values,
            "device_uuid": json_values,
            "requested_at": json_values,
        },
    )
)
def test_command_shaped_payloads(value: dict[str, Any]) -> None:
    payload = orjson.dumps(value)
    for parse in (DeviceCommand.from_payload, CommandRequest.from_json):
        with contextlib.suppress(ContractError):
            parse(payload)


# -- the telemetry fast path decides exactly as the field-by-field checks ------------------------
def _edge_numbers(low: float, high: float) -> st.SearchStrategy[Any]:
    return st.sampled_from([low, high, low - 1, high + 0.5, 0, 1.5, True, None, "1", [1]]) | (
        st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(2**40), 2**40)
    )


_VALID_READING: dict[str, Any] = {
    "channel_id": 0,
    "phase": "A",
    "temperature": 25.0,
    "line_voltage": 230.0,
    "current": 5,
    "active_power": -1000.5,
    "reactive_power": 10.0,
}
_field_values: dict[str, st.SearchStrategy[Any]] = {
    "channel_id": st.sampled_from([0, 64, 65, -1, True, 1.0, "0", None]) | st.integers(-5, 70),
    "phase": st.sampled_from(["A", "B", "C", "L1", "L2", "L3", "N", "a", "", None, 1, ["A"]]),
    "temperature": _edge_numbers(-40.0, 150.0),
    "line_voltage": _edge_numbers(0.0, 1000.0),
    "current": _edge_numbers(0.0, 10_000.0),
    "active_power": _edge_numbers(-10_000_000.0, 10_000_000.0),
    "reactive_power": _edge_numbers(-10_000_000.0, 10_000_000.0),
    "timestamp": st.sampled_from([1748779198000, "2025-06-01T11:59:58Z", None, "soon"]),
}


@st.composite
def _reading_fields(draw: st.DrawFn) -> dict[str, Any]:
    """A valid reading with up to two fields replaced or dropped: mostly near the boundary."""
    fields = dict(_VALID_READING)
    for key in draw(st.lists(st.sampled_from(sorted(_field_values)), max_size=2, unique=True)):
        if draw(st.booleans()):
            fields[key] = draw(_field_values[key])
        else:
            fields.pop(key, None)
    return fields


def _outcome(check: Any) -> Any:
    try:
        return check()
    except ContractError as exc:
        return ("error", exc.reason, exc.detail)


@FUZZ
@given(_reading_fields(), st.booleans())
def test_the_fast_reading_path_agrees_with_the_checked_one(fields: dict[str, Any], shared: bool):
    from msm_common.contracts import telemetry
    from msm_common.contracts.timeparse import TimeWindow

    window = TimeWindow.around(NOW)
    shared_at = NOW if shared else None
    fast = _outcome(lambda: telemetry._reading("dev-1", fields, shared_at, window))
    checked = _outcome(lambda: telemetry._checked_reading("dev-1", fields, shared_at, window))
    assert fast == checked
    assert type(fast) is type(checked)  # a Reading, or the same error
    if not isinstance(fast, tuple) or fast[0] != "error":
        assert [type(v) for v in fast[4:]] == [float] * 5


# -- the msgspec fast path for whole payloads accepts exactly what the checked path accepts ------
_TIMESTAMPS = st.sampled_from(
    [
        1748779198000,
        1748779198.5,
        1748779198123.4,
        "2025-06-01T11:59:58Z",
        "2025-06-01T13:59:58.123+02:00",
        "2025-06-01T11:59:58",
        "2014-12-31T23:59:59Z",
        "2025-06-03T00:00:00Z",
        10**20,
        -1,
        True,
        "",
        None,
    ]
)


@st.composite
def _telemetry_payloads(draw: st.DrawFn) -> bytes:
    readings = [draw(_reading_fields()) for _ in range(draw(st.integers(0, 3)))]
    for r in readings:
        if draw(st.booleans()):
            r["timestamp"] = draw(_TIMESTAMPS)
        else:
            r.pop("timestamp", None)
        if draw(st.integers(0, 9)) == 0:
            r["unknown"] = [[1]]
    if readings and draw(st.booleans()):
        doc: Any = {
            **readings[0],
            **({"timestamp": draw(_TIMESTAMPS)} if draw(st.booleans()) else {}),
        }
    else:
        doc = {"readings": readings}
        if draw(st.booleans()):
            doc["timestamp"] = draw(_TIMESTAMPS)
    body = json.dumps(doc, separators=(",", ":")).encode()  # big integers too (orjson refuses)
    edit = draw(st.integers(0, 5))
    if edit == 0:
        body = b" \n" + body + b" "
    elif edit == 1:
        body = b"\xef\xbb\xbf" + body
    elif edit == 2 and body.endswith(b"}"):
        body = body[:-1] + b', "readings": []}'  # a duplicate key: the last one counts
    elif edit == 3:
        body = body.replace(b"31.5", b"31.5e0").replace(b"25.0", b"2.5E1")
    return body


@FUZZ
@given(_telemetry_payloads())
def test_the_fast_payload_path_agrees_with_the_checked_one(payload: bytes) -> None:
    from msm_common.contracts import telemetry

    fast = telemetry._fast_message("dev-1", payload, NOW)
    try:
        checked = telemetry.parse_telemetry("dev-1", orjson.loads(payload), received_at=NOW)
    except (ContractError, orjson.JSONDecodeError):
        assert fast is None  # what the checked path refuses, the fast path never accepts
        return
    if fast is not None:
        assert fast == checked
        assert [type(v) for r in fast.readings for v in r[4:]] == [float] * 5 * len(fast.readings)


def test_the_fast_payload_path_takes_the_documented_shapes() -> None:
    from msm_common.contracts import telemetry

    reading = {k: v for k, v in _VALID_READING.items()}
    batch = orjson.dumps({"timestamp": "2025-06-01T11:59:58Z", "readings": [reading, reading]})
    single = orjson.dumps({**reading, "timestamp": 1748779198000})
    for payload in (batch, single):
        fast = telemetry._fast_message("dev-1", payload, NOW)
        assert fast is not None
        assert fast == telemetry.parse_telemetry("dev-1", orjson.loads(payload), received_at=NOW)
    assert len(telemetry._fast_message("dev-1", batch, NOW).readings) == 1  # type: ignore[union-attr]


def _boundaries() -> list[tuple[str, Any]]:
    from msm_common.contracts.telemetry import MAX_CHANNEL_ID, MEASURES

    cases: list[tuple[str, Any]] = [
        ("channel_id", v) for v in (0, MAX_CHANNEL_ID, MAX_CHANNEL_ID + 1, -1, True, 1.0)
    ]
    for name, low, high in MEASURES:
        cases += [(name, v) for v in (low, high, low - 0.001, high + 0.001, int(high), False)]
    return cases


@pytest.mark.parametrize(("field", "value"), _boundaries())
def test_the_fast_payload_path_keeps_every_bound(field: str, value: Any) -> None:
    from msm_common.contracts import telemetry

    reading = {**_VALID_READING, field: value}
    payload = json.dumps({"timestamp": 1748779198000, "readings": [reading]}).encode()
    fast = telemetry._fast_message("dev-1", payload, NOW)
    try:
        checked = telemetry.parse_telemetry("dev-1", json.loads(payload), received_at=NOW)
    except ContractError:
        assert fast is None
    else:
        assert fast == checked
