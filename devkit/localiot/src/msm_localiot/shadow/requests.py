"""Decoding and validating shadow requests the way AWS does, before any rule runs."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from .model import (
    BAD_ENCODING,
    DESIRED_NOT_OBJECT,
    INVALID_CLIENT_TOKEN,
    INVALID_JSON,
    INVALID_NODE,
    INVALID_VERSION,
    MAX_CLIENT_TOKEN_BYTES,
    MAX_DEPTH,
    MAX_REQUEST_BYTES,
    MISSING_STATE,
    REPORTED_NOT_OBJECT,
    SECTIONS,
    STATE_NOT_OBJECT,
    TOO_DEEP,
    TOO_LARGE,
    JsonObject,
    ShadowRequestError,
)


@dataclass(frozen=True)
class UpdateRequest:
    """A valid update: `patch` is the request's `state` (None: empty the shadow)."""

    patch: JsonObject | None
    version: int | None
    client_token: str | None


def parse_update(payload: bytes) -> UpdateRequest:
    """Validate an update request; errors found after the client token carry it."""
    request = decode(payload)
    if not isinstance(request, dict):
        raise ShadowRequestError(400, INVALID_JSON)
    token = client_token(request)
    try:
        return UpdateRequest(state_patch(request), expected_version(request), token)
    except ShadowRequestError as exc:
        exc.client_token = token
        raise


def decode(payload: bytes) -> object:
    if len(payload) > MAX_REQUEST_BYTES:
        raise ShadowRequestError(413, TOO_LARGE)
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise ShadowRequestError(415, BAD_ENCODING) from None
    try:
        return json.loads(text, parse_constant=_no_constants)
    except (ValueError, RecursionError):
        raise ShadowRequestError(400, INVALID_JSON) from None


def _no_constants(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def client_token(request: JsonObject) -> str | None:
    if "clientToken" not in request:
        return None
    token = request["clientToken"]
    if not isinstance(token, str) or len(token.encode("utf-8")) > MAX_CLIENT_TOKEN_BYTES:
        raise ShadowRequestError(400, INVALID_CLIENT_TOKEN)
    return token


def optional_token(payload: bytes) -> str | None:
    """Get and delete ignore their payload, except for a client token to echo."""
    if not payload.strip():
        return None
    try:
        request = decode(payload)
    except ShadowRequestError:
        return None
    return client_token(request) if isinstance(request, dict) else None


def expected_version(request: JsonObject) -> int | None:
    if "version" not in request:
        return None
    version = request["version"]
    if type(version) is not int or version < 0:
        raise ShadowRequestError(400, INVALID_VERSION)
    return version


def state_patch(request: JsonObject) -> JsonObject | None:
    """The request's `state` (None: empty the shadow), validated."""
    if "state" not in request:
        raise ShadowRequestError(400, MISSING_STATE)
    state = request["state"]
    if state is None:
        return None
    if not isinstance(state, dict):
        raise ShadowRequestError(400, STATE_NOT_OBJECT)
    for key, value in state.items():
        if key not in SECTIONS:
            raise ShadowRequestError(400, INVALID_NODE)
        if value is not None and not isinstance(value, dict):
            raise ShadowRequestError(
                400, DESIRED_NOT_OBJECT if key == "desired" else REPORTED_NOT_OBJECT
            )
        if value is not None:
            _check_nesting(value)
    return state


def _check_nesting(section: JsonObject) -> None:
    """At most MAX_DEPTH levels of objects / arrays (the section itself is level 1); no null
    inside arrays."""
    stack: list[tuple[object, int]] = [(section, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ShadowRequestError(400, TOO_DEEP)
        if isinstance(value, dict):
            children: Iterable[object] = value.values()
        elif isinstance(value, list):
            if any(item is None for item in value):
                raise ShadowRequestError(400, INVALID_NODE)
            children = value
        else:
            continue
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
