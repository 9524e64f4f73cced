"""Probes, the OpenAPI document and its docs page. (/metrics is on the ops port: main.py.)"""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from flask import Blueprint, Response, current_app
from msm_common.health import readiness

from msm_api import openapi
from msm_api.context import deps
from msm_api.routing import json_response

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    return json_response({"status": "ok"})


@bp.get("/readyz")
def readyz() -> Response:
    d = deps()
    result = readiness(
        {
            "mongo": lambda: bool(d.db.command("ping").get("ok")),
            "rabbitmq": d.publisher.ready,
        }
    )
    return json_response(result.as_dict(), status=200 if result.ready else 503)


@bp.get("/api/openapi.json")
def openapi_json() -> Response:
    cached: dict[str, Any] | None = current_app.config.get("MSM_OPENAPI")
    if cached is None:
        cached = current_app.config["MSM_OPENAPI"] = openapi.build(current_app)
    return json_response(cached)


@bp.get("/api/docs")
def docs() -> Response:
    page = files("msm_api").joinpath("docs.html").read_text(encoding="utf-8")
    return Response(
        page,
        mimetype="text/html",
        headers={
            "Content-Security-Policy": "default-src 'self'; style-src 'unsafe-inline'; "
            "script-src 'unsafe-inline'",
        },
    )
