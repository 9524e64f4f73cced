"""The web console's built files on the API's own origin (the local stack; in production the
gateway routes `/` to the console's image instead). Off unless MSM_API_CONSOLE_DIR is set.

`/` and unknown paths outside `/api` answer index.html (the console routes in the browser),
`/assets/*` the hashed bundles. Locally the provisioner listens on its own port: with
MSM_API_CONSOLE_PROVISIONER_URL set, `/api/provisioning/*` is passed through to it as the
gateway does in production, so the console needs one origin only.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Final

from flask import Blueprint, Flask, Response, send_from_directory
from pydantic_settings import BaseSettings, SettingsConfigDict
from werkzeug.wrappers import Request

from msm_api.problems import ApiError

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

CSP: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
_FORWARDED: Final = ("Authorization", "Content-Type", "Accept")
_RESERVED: Final = ("api/", "healthz", "readyz", "metrics")
_PROXY_TIMEOUT_S: Final = 30.0
_PROBLEM: Final = "application/problem+json"


class ConsoleSettings(BaseSettings):
    """MSM_API_CONSOLE_DIR (built files, e.g. web/dist) and, locally only,
    MSM_API_CONSOLE_PROVISIONER_URL. Both unset in production: the gateway routes instead."""

    model_config = SettingsConfigDict(env_prefix="MSM_API_CONSOLE_", extra="ignore", frozen=True)
    dir: Path | None = None
    provisioner_url: str | None = None


def _harden(resp: Response, *, immutable: bool = False) -> Response:
    resp.headers["Content-Security-Policy"] = CSP
    resp.headers["Referrer-Policy"] = "no-referrer"
    resp.headers["X-Frame-Options"] = "DENY"
    resp.headers["Cache-Control"] = (
        "public, max-age=31536000, immutable" if immutable else "no-cache"
    )
    return resp


def console_blueprint(root: Path) -> Blueprint:
    bp = Blueprint("console", __name__)
    root = root.resolve()

    @bp.get("/")
    def index() -> Response:
        return _harden(send_from_directory(root, "index.html", max_age=0))

    @bp.get("/assets/<path:name>")
    def asset(name: str) -> Response:
        return _harden(send_from_directory(root / "assets", name), immutable=True)

    @bp.get("/<path:path>")
    def page(path: str) -> Response:
        if path.startswith(_RESERVED):
            raise ApiError(404, "not found")
        if "." in path.rsplit("/", 1)[-1] and (root / path).is_file():
            return _harden(send_from_directory(root, path))
        return index()

    return bp


class ProvisioningPassThrough:
    """WSGI: `/api/provisioning/*` to the provisioner, like the gateway in production. Outside
    the Flask app on purpose: the provisioner checks the token and audits; the API does neither
    twice."""

    PREFIX: Final = "/api/provisioning/"

    def __init__(self, app: WSGIApplication, base_url: str) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError("MSM_API_CONSOLE_PROVISIONER_URL must be an http(s) URL")
        self.app, self.base = app, base_url.rstrip("/")

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if not path.startswith(self.PREFIX):
            return self.app(environ, start_response)
        return self.forward(Request(environ))(environ, start_response)

    def forward(self, request: Request) -> Response:
        if ".." in request.path.split("/") or request.method not in ("GET", "POST"):
            return Response(b'{"title": "Not found", "status": 404}', 404, mimetype=_PROBLEM)
        url = self.base + request.full_path.rstrip("?")
        headers = {h: request.headers[h] for h in _FORWARDED if h in request.headers}
        body = request.get_data() if request.method == "POST" else None
        req = urllib.request.Request(url, data=body, headers=headers, method=request.method)  # noqa: S310
        try:
            with urllib.request.urlopen(req, timeout=_PROXY_TIMEOUT_S) as upstream:  # noqa: S310
                status, kind, data = upstream.status, upstream.headers, upstream.read()
        except urllib.error.HTTPError as exc:
            status, kind, data = exc.code, exc.headers, exc.read()
        except OSError:
            data = b'{"title": "Service unavailable", "status": 503}'
            return Response(data, 503, mimetype=_PROBLEM)
        return Response(data, status=status, content_type=kind.get("Content-Type"))


def init_app(app: Flask, settings: ConsoleSettings | None = None) -> None:
    """Serve the console (and pass provisioning through) when the settings say so."""
    settings = settings or ConsoleSettings()
    if settings.provisioner_url:
        app.wsgi_app = ProvisioningPassThrough(app.wsgi_app, settings.provisioner_url)  # type: ignore[method-assign]
    if settings.dir is not None:
        app.register_blueprint(console_blueprint(settings.dir))
