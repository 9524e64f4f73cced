"""Every HTTP error is `application/problem+json` (RFC 9457); one exception -> HTTP table.

For the WSGI services (api, provisioner), which bring Flask. A service adds its own rules
(its domain errors) in front of the shared ones with `register(app, rules)`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from http import HTTPStatus
from typing import Any, Final

import orjson
from flask import Flask, Response, request
from pydantic import ValidationError
from pymongo.errors import ConnectionFailure, PyMongoError
from werkzeug.exceptions import HTTPException

from msm_common.contracts.errors import ContractError

log = logging.getLogger(__name__)
PROBLEM_JSON: Final = "application/problem+json"


class ApiError(Exception):
    """An error answer: status, short title, detail for humans, the offending field if any.

    Extra keyword arguments become extra members of the problem document.
    """

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        title: str | None = None,
        field: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title or HTTPStatus(status).phrase
        self.field = field
        self.headers = headers or {}
        self.extra = extra


Rule = Callable[[Exception], ApiError | None]


def bad_request(field: str | None, detail: str) -> ApiError:
    return ApiError(400, detail, title="Invalid request", field=field)


def problem(err: ApiError) -> Response:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": err.title,
        "status": err.status,
        "detail": err.detail,
        "instance": request.path,
        **err.extra,
    }
    if err.field is not None:
        body["field"] = err.field
    resp = Response(orjson.dumps(body, default=str), status=err.status, mimetype=PROBLEM_JSON)
    resp.headers.update(err.headers)
    return resp


def from_validation(exc: ValidationError) -> ApiError:
    """The first error of a pydantic validation, naming its field."""
    first = exc.errors(include_url=False, include_input=False)[0]
    field = ".".join(str(part) for part in first["loc"]) or None
    if first["type"] == "extra_forbidden":
        return bad_request(field, f"{field}: unknown field")
    if first["type"] == "missing":
        return bad_request(field, f"{field}: required")
    return bad_request(field, f"{field}: {first['msg'].removeprefix('Value error, ')}")


def _from_http(exc: HTTPException) -> ApiError:
    code = exc.code or 500
    detail = exc.description or HTTPStatus(code).phrase
    if code == 413:
        detail = "request body is too large"
    allow = {k: v for k, v in exc.get_headers() if k.lower() == "allow"}
    return ApiError(code, detail, headers=allow)


def to_api_error(exc: Exception, rules: Sequence[Rule] = ()) -> ApiError:
    """The one exception -> HTTP table: the service's `rules` first, then the shared ones."""
    if isinstance(exc, ApiError):
        return exc
    for rule in rules:
        found = rule(exc)
        if found is not None:
            return found
    if isinstance(exc, ValidationError):
        return from_validation(exc)
    if isinstance(exc, ContractError):
        return bad_request(exc.field, exc.detail)
    if isinstance(exc, HTTPException):
        return _from_http(exc)
    if isinstance(exc, ConnectionFailure):
        log.warning("database unavailable on %s %s: %s", request.method, request.path, exc)
        return ApiError(503, "the database is unavailable", headers={"Retry-After": "5"})
    if isinstance(exc, PyMongoError):
        log.exception("database error on %s %s", request.method, request.path)
        return ApiError(503, "the database could not complete the request")
    log.exception("unhandled error on %s %s", request.method, request.path)
    return ApiError(500, "internal error")


def register(app: Flask, rules: Sequence[Rule] = ()) -> None:
    """Answer every exception `app` raises with a problem document."""

    @app.errorhandler(Exception)
    def _handle(exc: Exception) -> Response:
        return problem(to_api_error(exc, rules))
