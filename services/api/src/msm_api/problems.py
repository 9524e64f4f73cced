"""Every error is `application/problem+json` (RFC 9457); one table maps exceptions to it."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

import orjson
from flask import Flask, Response, request
from msm_common.contracts.errors import ContractError
from pydantic import ValidationError
from pymongo.errors import ConnectionFailure, PyMongoError
from werkzeug.exceptions import HTTPException

from msm_api.domain.cursor import CursorError
from msm_api.domain.timerange import RangeError

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"


class ApiError(Exception):
    """An error answer: status, short title, detail for humans, the offending field if any."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        title: str | None = None,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title or HTTPStatus(status).phrase
        self.field = field
        self.headers = headers or {}


def bad_request(field: str | None, detail: str) -> ApiError:
    return ApiError(400, detail, title="Invalid request", field=field)


def problem(err: ApiError) -> Response:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": err.title,
        "status": err.status,
        "detail": err.detail,
        "instance": request.path,
    }
    if err.field is not None:
        body["field"] = err.field
    resp = Response(orjson.dumps(body), status=err.status, mimetype=PROBLEM_JSON)
    resp.headers.update(err.headers)
    return resp


def _from_validation(exc: ValidationError) -> ApiError:
    first = exc.errors(include_url=False, include_input=False)[0]
    field = ".".join(str(part) for part in first["loc"]) or None
    if first["type"] == "extra_forbidden":
        return bad_request(field, f"{field}: unknown field")
    if first["type"] == "missing":
        return bad_request(field, f"{field}: required")
    return bad_request(field, f"{field}: {first['msg'].removeprefix('Value error, ')}")


def to_api_error(exc: Exception) -> ApiError:
    """The one exception -> HTTP table."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, ValidationError):
        return _from_validation(exc)
    if isinstance(exc, ContractError):
        return bad_request(exc.field, exc.detail)
    if isinstance(exc, CursorError):
        return bad_request("cursor", f"cursor: {exc}")
    if isinstance(exc, RangeError):
        return bad_request(exc.field, str(exc))
    if isinstance(exc, HTTPException):
        code = exc.code or 500
        detail = exc.description or HTTPStatus(code).phrase
        if code == 413:
            detail = "request body is too large"
        allow = {k: v for k, v in exc.get_headers() if k.lower() == "allow"}
        return ApiError(code, detail, headers=allow)
    if isinstance(exc, ConnectionFailure):
        return ApiError(503, "the database is unavailable", headers={"Retry-After": "5"})
    if isinstance(exc, PyMongoError):
        log.exception("database error")
        return ApiError(503, "the database could not complete the request")
    log.exception("unhandled error on %s %s", request.method, request.path)
    return ApiError(500, "internal error")


def register(app: Flask) -> None:
    @app.errorhandler(Exception)
    def _handle(exc: Exception) -> Response:
        return problem(to_api_error(exc))
