"""The Flask application factory."""

from __future__ import annotations

from flask import Flask, Response
from werkzeug.middleware.proxy_fix import ProxyFix

from msm_api import audit, console, problems
from msm_api.blueprints import audit_log, auth, commands, configs, devices, ops, roles, telemetry
from msm_api.bootstrap import bootstrap
from msm_api.bootstrap import prepare as prepare_deps
from msm_api.context import EXTENSION, Deps
from msm_api.settings import ApiSettings

BLUEPRINTS = (
    auth.bp,
    roles.bp,
    devices.bp,
    commands.bp,
    telemetry.bp,
    configs.bp,
    audit_log.bp,
    ops.bp,
)


def create_app(
    settings: ApiSettings | None = None, *, deps: Deps | None = None, prepare: bool = True
) -> Flask:
    """Build the app on `deps` (default: `bootstrap(settings)`; tests build theirs with fakes);
    `prepare=False` skips the start-up work (indexes, roles, first admin)."""
    settings = settings or ApiSettings()
    app = Flask("msm_api")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    deps = deps or bootstrap(settings)
    app.extensions[EXTENSION] = deps
    if settings.trusted_proxies:
        hops = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    problems.register(app)
    deps.metrics.init_app(app)
    audit.init_app(app)
    for bp in BLUEPRINTS:
        app.register_blueprint(bp)
    console.init_app(app)

    @app.after_request
    def _headers(resp: Response) -> Response:
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        return resp

    if prepare:
        prepare_deps(deps)
    return app


def close_app(app: Flask) -> None:
    """Release the app's connections (tests; gunicorn workers exit with their process)."""
    for close in app.extensions[EXTENSION].closers:
        close()
