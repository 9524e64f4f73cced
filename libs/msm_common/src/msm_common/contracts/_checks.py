"""Plain, fast field checks shared by the hand-written parsers (no pydantic on the hot path)."""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Final

import orjson

from msm_common.contracts.errors import (
    INVALID_ENCODING,
    INVALID_JSON,
    NON_FINITE_NUMBER,
    NOT_AN_OBJECT,
    TOO_DEEP,
    TOO_LARGE,
    ContractError,
    field_error,
    short_repr,
)
from msm_common.identifiers import THING_NAME_RE

MAX_PAYLOAD_BYTES: Final = 256 * 1024

# A hostname of RFC 1123 labels whose last label is not all digits (that would be a bad IP).
# Also the JSON Schema pattern of the hostname branch of `HOST_SCHEMA`: one definition.
_LABEL: Final = r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)"
HOSTNAME_PATTERN: Final = rf"^(?=.{{1,253}}$)(?:{_LABEL}\.)*(?=[A-Za-z0-9-]*[A-Za-z-]){_LABEL}$"
_HOSTNAME_RE: Final = re.compile(HOSTNAME_PATTERN)
HOST_SCHEMA: Final = {
    "minLength": 1,
    "maxLength": 253,
    "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}, {"pattern": HOSTNAME_PATTERN}],
}


def load_json(payload: bytes, *, max_bytes: int = MAX_PAYLOAD_BYTES) -> object:
    """Decode one JSON document, refusing oversize, non-UTF-8, NaN/Infinity and JSON bombs."""
    if len(payload) > max_bytes:
        raise ContractError(TOO_LARGE, f"payload is {len(payload)} bytes, limit is {max_bytes}")
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise _decode_error(payload, exc) from None


def _decode_error(payload: bytes, exc: orjson.JSONDecodeError) -> ContractError:
    message = exc.msg
    if "depth limit" in message:
        return ContractError(TOO_DEEP, "payload nests arrays or objects too deeply")
    if "UTF-8" in message:
        return ContractError(INVALID_ENCODING, "payload is not valid UTF-8")
    # orjson reports a char offset; on this error path decoding again is affordable.
    rest = payload.decode("utf-8", "replace")[exc.pos : exc.pos + 8]
    if "infinity" in message or rest.startswith(("NaN", "Infinity")):
        return ContractError(NON_FINITE_NUMBER, "NaN and Infinity are not JSON numbers")
    return ContractError(INVALID_JSON, f"{message} at char {exc.pos}")


def require_object(data: object, what: str) -> dict[str, Any]:
    """Return `data` as a JSON object or raise not_an_object."""
    if type(data) is not dict:
        raise ContractError(NOT_AN_OBJECT, f"{what} must be a JSON object, got {_kind(data)}")
    return data


def _kind(value: object) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number"
    )


def path_of(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def number(obj: dict[str, Any], key: str, prefix: str, low: float, high: float) -> float:
    """A JSON number (never a bool or a numeric string) within [low, high]."""
    value = obj.get(key)
    if (type(value) is float or type(value) is int) and low <= value <= high:
        return float(value)
    raise number_error(obj, key, prefix, low, high)


def number_error(
    obj: dict[str, Any], key: str, prefix: str, low: float, high: float
) -> ContractError:
    """Say why obj[key] is not a number within [low, high]."""
    value = obj.get(key)
    if type(value) is not float and type(value) is not int:
        return _type_error(obj, key, prefix, value, "a number")
    return field_error(path_of(prefix, key), f"{value!r} is outside [{low:g}, {high:g}]")


def integer(obj: dict[str, Any], key: str, prefix: str, low: int, high: int) -> int:
    """A JSON integer (never a bool or a float) within [low, high]."""
    value = obj.get(key)
    if type(value) is not int:
        raise _type_error(obj, key, prefix, value, "an integer")
    if not low <= value <= high:
        raise field_error(path_of(prefix, key), f"{value!r} is outside [{low}, {high}]")
    return value


def string(obj: dict[str, Any], key: str, prefix: str, max_len: int, *, min_len: int = 1) -> str:
    """A JSON string of min_len..max_len characters."""
    value = obj.get(key)
    if type(value) is not str:
        raise _type_error(obj, key, prefix, value, "a string")
    if not min_len <= len(value) <= max_len:
        raise field_error(path_of(prefix, key), f"length must be {min_len}..{max_len}")
    return value


def optional_string(obj: dict[str, Any], key: str, prefix: str, max_len: int) -> str | None:
    if obj.get(key) is None:
        return None
    return string(obj, key, prefix, max_len)


def _type_error(
    obj: dict[str, Any], key: str, prefix: str, value: object, wanted: str
) -> ContractError:
    path = path_of(prefix, key)
    if key not in obj:
        return field_error(path, "required", missing=True)
    return field_error(path, f"must be {wanted}, got {_kind(value)} {short_repr(value)}")


def check_device_uuid(value: object, field: str = "device_uuid") -> str:
    """Return `value` if it is a device uuid: 1-128 characters of [A-Za-z0-9_:-]."""
    if type(value) is not str or THING_NAME_RE.fullmatch(value) is None:
        raise field_error(
            field, f"{short_repr(value)} is not a device uuid ([A-Za-z0-9_:-]{{1,128}})"
        )
    return value


def normalize_host(value: str) -> str | None:
    """A hostname (RFC 1123 labels) or IP literal (normalised), at most 253 chars; else None."""
    if not 1 <= len(value) <= 253:
        return None
    try:
        return ipaddress.ip_address(value).compressed
    except ValueError:
        pass
    return value if _HOSTNAME_RE.match(value) else None
