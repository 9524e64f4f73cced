"""Payload decoding: size, encoding, non-finite numbers and JSON bombs all end in ContractError."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from msm_common.contracts import ContractError, load_json
from msm_common.device_messages import parse_device_message

NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)
DEVICE_TOPICS = [
    "msm/dev-1/telemetry",
    "msm/dev-1/device_info",
    "msm/dev-1/reboot",
    "msm/dev-1/mqtt",
    "$aws/events/presence/connected/dev-1",
]


def reason_for(topic: str, payload: bytes) -> str:
    with pytest.raises(ContractError) as info:
        parse_device_message(topic, payload, received_at=NOW)
    return info.value.reason


@pytest.mark.parametrize("topic", DEVICE_TOPICS)
@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\x00\xff" * 512 * 1024, "too_large"),
        (b"[" * 100_000 + b"]" * 100_000, "too_deep"),
        (b'{"a":' * 2000 + b"1" + b"}" * 2000, "too_deep"),
        (b'{"timestamp": NaN}', "non_finite_number"),
        (b'{"current": Infinity}', "non_finite_number"),
        (b'{"current": -Infinity}', "non_finite_number"),
        (b'{"current": 1e999}', "non_finite_number"),
        (b'{"device_ip": "\xff\xfe"}', "invalid_encoding"),
        (b'{"x": "\xed\xa0\x80"}', "invalid_encoding"),
        (b"", "invalid_json"),
        (b"{", "invalid_json"),
        (b"{'single': 'quotes'}", "invalid_json"),
        (b'{"a": 1} trailing', "invalid_json"),
        (b"[]", "not_an_object"),
        (b"null", "not_an_object"),
        (b"42", "not_an_object"),
    ],
)
def test_malformed_payloads_are_rejected_with_a_reason(
    topic: str, payload: bytes, reason: str
) -> None:
    assert reason_for(topic, payload) == reason


def test_one_megabyte_of_garbage_is_too_large_before_decoding() -> None:
    with pytest.raises(ContractError) as info:
        load_json(bytes(range(256)) * 4096)
    assert info.value.reason == "too_large"
    assert "1048576 bytes" in info.value.detail


def test_max_bytes_is_a_parameter() -> None:
    payload = b'{"status": "ok"}'
    parse_device_message("msm/d/reboot", payload, received_at=NOW, max_bytes=len(payload))
    with pytest.raises(ContractError) as info:
        parse_device_message("msm/d/reboot", payload, received_at=NOW, max_bytes=len(payload) - 1)
    assert info.value.reason == "too_large"


def test_nesting_within_the_limit_still_parses_as_json() -> None:
    assert load_json(b"[" * 500 + b"]" * 500) is not None


def test_unsupported_and_unknown_topics() -> None:
    assert reason_for("$aws/things/dev-1/shadow/update", b"{}") == "unsupported_topic"
    assert reason_for("msm/+/telemetry", b"{}") == "unknown_topic"
    assert reason_for("other/topic", b"{}") == "unknown_topic"


def test_error_carries_reason_and_detail() -> None:
    error = ContractError("field_invalid", "phase: bad", field="phase")
    assert (error.reason, error.detail, error.field) == ("field_invalid", "phase: bad", "phase")
    assert str(error) == "field_invalid: phase: bad"
    nested = error.within("readings[2]")
    assert nested.field == "readings[2].phase"
    assert nested.detail == "readings[2].phase: bad"
