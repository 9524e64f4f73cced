"""Every error is `application/problem+json` (msm_common.problems); the API's own rules."""

from __future__ import annotations

from flask import Flask
from msm_common import problems
from msm_common.problems import ApiError, bad_request

from msm_api.domain.cursor import CursorError
from msm_api.domain.timerange import RangeError

__all__ = ["ApiError", "bad_request", "register"]


def _api_rule(exc: Exception) -> ApiError | None:
    if isinstance(exc, CursorError):  # well formed, but not one of ours: no such page
        return ApiError(404, f"cursor: {exc}", field="cursor")
    if isinstance(exc, RangeError):
        return bad_request(exc.field, str(exc))
    return None


def register(app: Flask) -> None:
    problems.register(app, [_api_rule])
