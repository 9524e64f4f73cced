"""Probes, the OpenAPI document and its Swagger UI page. (/metrics is on the ops port: main.py.)"""

from __future__ import annotations

from importlib.resources import files
from typing import Any, Final

from flask import Blueprint, Response, abort, current_app
from msm_common import asyncapi
from msm_common.http_probes import add_probes

from msm_api import openapi
from msm_api.context import deps
from msm_api.routing import json_response

bp = Blueprint("ops", __name__)


add_probes(
    bp,
    lambda: {
        "mongo": lambda: bool(deps().db.command("ping").get("ok")),
        "rabbitmq": deps().publisher.ready,
    },
)


@bp.get("/api/asyncapi.json")
def asyncapi_json() -> Response:
    """What MSM publishes on RabbitMQ (AsyncAPI 3.0), for the systems that consume it."""
    cached: dict[str, Any] | None = current_app.config.get("MSM_ASYNCAPI")
    if cached is None:
        cached = current_app.config["MSM_ASYNCAPI"] = asyncapi.build()
    return json_response(cached)


@bp.get("/api/openapi.json")
def openapi_json() -> Response:
    cached: dict[str, Any] | None = current_app.config.get("MSM_OPENAPI")
    if cached is None:
        cached = current_app.config["MSM_OPENAPI"] = openapi.build(current_app)
    return json_response(cached)


# Swagger UI's own files (flask-swagger-ui bundles swagger-ui-dist): same origin, no CDN.
_VIEWER = files("flask_swagger_ui").joinpath("dist")
_ASSETS: Final = {
    "swagger-ui.css": "text/css",
    "swagger-ui-bundle.js": "text/javascript",
    "favicon-32x32.png": "image/png",
}
_DOCS_CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self' data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def _page(body: bytes | str, mimetype: str) -> Response:
    resp = Response(body, mimetype=mimetype)
    resp.headers["Content-Security-Policy"] = _DOCS_CSP
    resp.headers["Cache-Control"] = "public, max-age=3600"
    return resp


@bp.get("/api/docs")
def docs() -> Response:
    return _page(files("msm_api").joinpath("docs.html").read_text(encoding="utf-8"), "text/html")


@bp.get("/api/docs/init.js")
def docs_init() -> Response:
    return _page(files("msm_api").joinpath("docs_init.js").read_bytes(), "text/javascript")


@bp.get("/api/docs/assets/<name>")
def docs_asset(name: str) -> Response:
    mimetype = _ASSETS.get(name)
    if mimetype is None:
        abort(404)
    return _page(_VIEWER.joinpath(name).read_bytes(), mimetype)
