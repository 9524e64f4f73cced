"""JSON and problem+json answers, and the one exception -> HTTP table."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

import orjson
from botocore.exceptions import BotoCoreError, ClientError
from flask import Flask, Response, current_app, request
from pymongo.errors import PyMongoError
from werkzeug.exceptions import HTTPException

from msm_provisioner.deps import Deps
from msm_provisioner.handlers.errors import Conflict, ManifestRejected, NotFound

log = logging.getLogger(__name__)
EXTENSION = "msm_provisioner"
PROBLEM_JSON = "application/problem+json"


class ApiError(Exception):
    def __init__(
        self, status: int, detail: str, *, headers: dict[str, str] | None = None, **extra: Any
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra


def deps() -> Deps:
    found: Deps = current_app.extensions[EXTENSION]
    return found


def json_response(payload: Any, status: int = 200) -> Response:
    body = orjson.dumps(payload, default=str, option=orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC)
    return Response(body, status=status, mimetype="application/json")


def problem(err: ApiError) -> Response:
    body = {
        "type": "about:blank",
        "title": HTTPStatus(err.status).phrase,
        "status": err.status,
        "detail": err.detail,
        "instance": request.path,
        **err.extra,
    }
    resp = Response(orjson.dumps(body, default=str), status=err.status, mimetype=PROBLEM_JSON)
    resp.headers.update(err.headers)
    return resp


def to_api_error(exc: Exception) -> ApiError:
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, NotFound):
        return ApiError(404, "no such device")
    if isinstance(exc, Conflict):
        return ApiError(409, str(exc))
    if isinstance(exc, ManifestRejected):
        errors = [{"line": e.line, "detail": e.detail} for e in exc.errors]
        return ApiError(400, "the manifest has bad rows; nothing was imported", errors=errors)
    if isinstance(exc, HTTPException):
        code = exc.code or 500
        return ApiError(code, exc.description or HTTPStatus(code).phrase)
    if isinstance(exc, PyMongoError):
        log.warning("database error on %s %s: %s", request.method, request.path, exc)
        return ApiError(503, "the database is unavailable", headers={"Retry-After": "5"})
    if isinstance(exc, ClientError | BotoCoreError):
        log.warning("AWS IoT registry error on %s %s: %s", request.method, request.path, exc)
        return ApiError(502, "the AWS IoT registry refused or failed the request")
    log.exception("unhandled error on %s %s", request.method, request.path)
    return ApiError(500, "internal error")


def register(app: Flask) -> None:
    @app.errorhandler(Exception)
    def _handle(exc: Exception) -> Response:
        return problem(to_api_error(exc))
