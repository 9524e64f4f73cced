"""Request bodies and query strings into pydantic models; anything off-model is a 400."""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from flask import request
from pydantic import BaseModel

from msm_api.problems import ApiError, bad_request

M = TypeVar("M", bound=BaseModel)
MAX_DEPTH = 32


def check_keys(value: Any, path: str = "", depth: int = 0) -> None:
    """Refuse `$`-prefixed keys (operator injection), NUL bytes and deep nesting anywhere."""
    if depth > MAX_DEPTH:
        raise bad_request(path or None, f"{path or 'body'}: nested too deeply")
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else key
            if key.startswith("$") or "\x00" in key:
                raise bad_request(where, f"{where}: keys may not start with $ or contain NUL")
            check_keys(item, where, depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_keys(item, f"{path}[{index}]", depth + 1)


def json_object(*, optional: bool = False) -> dict[str, Any]:
    """The request's JSON object (size already capped by MAX_CONTENT_LENGTH)."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        if optional:
            return {}
        raise bad_request(None, "a JSON object body is required")
    mimetype = request.mimetype
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        raise ApiError(415, "the body must be application/json")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise bad_request(None, f"body is not valid JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise bad_request(None, "the body must be a JSON object")
    check_keys(data)
    return data


def body(model: type[M], *, optional: bool = False) -> M:
    return model.model_validate(json_object(optional=optional), strict=True)


def query(model: type[M]) -> M:
    values: dict[str, str] = {}
    for key, items in request.args.lists():
        if len(items) > 1:
            raise bad_request(key, f"{key}: given more than once")
        values[key] = items[0]
    return model.model_validate(values)
