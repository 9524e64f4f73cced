"""Device Shadow updates that AWS rejects, in its error shape (code, message, clientToken)."""

from __future__ import annotations

from typing import Any

import pytest
from shadow_helpers import T0, body, build, rejected, state, update

# --- rejections --------------------------------------------------------------------------------

TOKEN = "tok"
LONG = "x" * 65
TOO_LARGE = "The payload exceeds the maximum size allowed"


def rejection(
    name: str, payload: bytes, message: str, *, code: int = 400, token: str | None = None
) -> Any:
    """A case: `payload` is answered `code` with `message` (and the update's clientToken)."""
    return pytest.param(payload, code, message, token, id=name)


REJECT_CASES = [
    rejection("invalid json", b"{", "Invalid JSON"),
    rejection("not an object", b"[]", "Invalid JSON"),
    rejection("NaN", b'{"state": {"desired": {"a": NaN}}}', "Invalid JSON"),
    rejection(
        "not utf-8",
        b'{"state": {"desired": {"a": "\xff"}}}',
        "Unsupported documented encoding; supported encoding is UTF-8",
        code=415,
    ),
    rejection(
        "missing state", body({"clientToken": TOKEN}), "Missing required node: state", token=TOKEN
    ),
    rejection(
        "state not an object",
        body({"state": 5, "clientToken": TOKEN}),
        "State node must be an object",
        token=TOKEN,
    ),
    rejection(
        "desired not an object",
        body({"state": {"desired": [1]}}),
        "Desired node must be an object",
    ),
    rejection(
        "reported not an object",
        body({"state": {"reported": "x"}}),
        "Reported node must be an object",
    ),
    rejection(
        "unknown state node", body({"state": {"delta": {"a": 1}}}), "State contains an invalid node"
    ),
    rejection(
        "null inside an array",
        body({"state": {"desired": {"c": [None, 1]}}}),
        "State contains an invalid node",
    ),
    *(
        rejection(name, body({**state({"a": 1}), key: value}), message)
        for name, key, value, message in [
            ("version as a string", "version", "3", "Invalid version"),
            ("version as a boolean", "version", True, "Invalid version"),
            ("negative version", "version", -1, "Invalid version"),
            ("client token longer than 64 bytes", "clientToken", LONG, "Invalid clientToken"),
            ("client token not a string", "clientToken", 7, "Invalid clientToken"),
        ]
    ),
    rejection(
        "seven levels of nesting",
        body(state({"a": {"b": {"c": {"d": {"e": {"f": {"g": 1}}}}}}})),
        "JSON contains too many levels of nesting; maximum is 6",
    ),
    rejection(
        "state over 8 KB",
        body({**state({"big": "x" * 8200}), "clientToken": TOKEN}),
        TOO_LARGE,
        code=413,
        token=TOKEN,
    ),
    rejection("request over the message limit", b" " * (128 * 1024 + 1), TOO_LARGE, code=413),
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
