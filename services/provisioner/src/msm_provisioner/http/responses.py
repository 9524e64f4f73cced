"""JSON answers; problem+json (msm_common.problems) with the provisioner's own rules."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from botocore.exceptions import BotoCoreError, ClientError
from flask import Flask, Response, current_app, request
from msm_common import problems
from msm_common.problems import ApiError, problem

from msm_provisioner.deps import Deps
from msm_provisioner.handlers.errors import Conflict, ManifestRejected, NotFound

log = logging.getLogger(__name__)
EXTENSION = "msm_provisioner"
__all__ = ["EXTENSION", "ApiError", "deps", "json_response", "problem", "register"]


def deps() -> Deps:
    found: Deps = current_app.extensions[EXTENSION]
    return found


def json_response(payload: Any, status: int = 200) -> Response:
    body = orjson.dumps(payload, default=str, option=orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC)
    return Response(body, status=status, mimetype="application/json")


def _provisioner_rule(exc: Exception) -> ApiError | None:
    if isinstance(exc, NotFound):
        return ApiError(404, "no such device")
    if isinstance(exc, Conflict):
        return ApiError(409, str(exc))
    if isinstance(exc, ManifestRejected):
        errors = [{"line": e.line, "detail": e.detail} for e in exc.errors]
        return ApiError(400, "the manifest has bad rows; nothing was imported", errors=errors)
    if isinstance(exc, ClientError | BotoCoreError):
        log.warning("AWS IoT registry error on %s %s: %s", request.method, request.path, exc)
        return ApiError(502, "the AWS IoT registry refused or failed the request")
    return None


def register(app: Flask) -> None:
    problems.register(app, [_provisioner_rule])
