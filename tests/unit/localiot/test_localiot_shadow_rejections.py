"""Device Shadow updates that AWS rejects, in its error shape (code, message, clientToken)."""

from __future__ import annotations

from typing import Any

import pytest
from shadow_helpers import T0, body, build, rejected, state, update

# --- rejections --------------------------------------------------------------------------------

TOKEN = "tok"
LONG = "x" * 65
REJECT_CASES = [
    pytest.param(b"{", 400, "Invalid JSON", None, id="invalid json"),
    pytest.param(b"[]", 400, "Invalid JSON", None, id="not an object"),
    pytest.param(b'{"state": {"desired": {"a": NaN}}}', 400, "Invalid JSON", None, id="NaN"),
    pytest.param(
        b'{"state": {"desired": {"a": "\xff"}}}',
        415,
        "Unsupported documented encoding; supported encoding is UTF-8",
        None,
        id="not utf-8",
    ),
    pytest.param(
        body({"clientToken": TOKEN}), 400, "Missing required node: state", TOKEN, id="missing state"
    ),
    pytest.param(
        body({"state": 5, "clientToken": TOKEN}),
        400,
        "State node must be an object",
        TOKEN,
        id="state not an object",
    ),
    pytest.param(
        body({"state": {"desired": [1]}}),
        400,
        "Desired node must be an object",
        None,
        id="desired not an object",
    ),
    pytest.param(
        body({"state": {"reported": "x"}}),
        400,
        "Reported node must be an object",
        None,
        id="reported not an object",
    ),
    pytest.param(
        body({"state": {"delta": {"a": 1}}}),
        400,
        "State contains an invalid node",
        None,
        id="unknown state node",
    ),
    pytest.param(
        body({"state": {"desired": {"c": [None, 1]}}}),
        400,
        "State contains an invalid node",
        None,
        id="null inside an array",
    ),
    pytest.param(
        body({**state({"a": 1}), "version": "3"}),
        400,
        "Invalid version",
        None,
        id="version as a string",
    ),
    pytest.param(
        body({**state({"a": 1}), "version": True}),
        400,
        "Invalid version",
        None,
        id="version as a boolean",
    ),
    pytest.param(
        body({**state({"a": 1}), "version": -1}),
        400,
        "Invalid version",
        None,
        id="negative version",
    ),
    pytest.param(
        body({**state({"a": 1}), "clientToken": LONG}),
        400,
        "Invalid clientToken",
        None,
        id="client token longer than 64 bytes",
    ),
    pytest.param(
        body({**state({"a": 1}), "clientToken": 7}),
        400,
        "Invalid clientToken",
        None,
        id="client token not a string",
    ),
    pytest.param(
        body(state({"a": {"b": {"c": {"d": {"e": {"f": {"g": 1}}}}}}})),
        400,
        "JSON contains too many levels of nesting; maximum is 6",
        None,
        id="seven levels of nesting",
    ),
    pytest.param(
        body({**state({"big": "x" * 8200}), "clientToken": TOKEN}),
        413,
        "The payload exceeds the maximum size allowed",
        TOKEN,
        id="state over 8 KB",
    ),
    pytest.param(
        b" " * (128 * 1024 + 1),
        413,
        "The payload exceeds the maximum size allowed",
        None,
        id="request over the message limit",
    ),
]


@pytest.mark.parametrize(("payload", "code", "message", "token"), REJECT_CASES)
def test_invalid_updates_are_rejected_in_aws_error_shape(
    payload: bytes, code: int, message: str, token: str | None
) -> None:
    before = build(state({"keep": 1}))
    result = rejected(before, payload, T0 + 1)
    expected: dict[str, Any] = {"code": code, "message": message, "timestamp": T0 + 1}
    if token is not None:
        expected["clientToken"] = token
    assert result.payload() == expected


def test_six_levels_of_nesting_are_accepted() -> None:
    result = update(None, state({"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}))
    assert result.shadow.state["desired"]["a"]["b"]["c"]["d"]["e"] == {"f": 1}


def test_state_just_under_8_kb_is_accepted_and_growth_past_it_is_not() -> None:
    shadow = update(None, state({"a": "x" * 8000})).shadow
    assert shadow.version == 1
    too_big = rejected(shadow, body(state(reported={"b": "y" * 300})))
    assert too_big.code == 413


def test_client_token_of_exactly_64_bytes_is_echoed() -> None:
    token = "é" * 32  # 64 bytes in UTF-8
    result = update(None, {**state({"a": 1}), "clientToken": token})
    assert result.accepted["clientToken"] == token
    assert result.documents["clientToken"] == token
