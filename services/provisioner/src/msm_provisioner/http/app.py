"""The Flask application factory."""

from __future__ import annotations

import logging

from flask import Flask, Response

from msm_provisioner.background import Background
from msm_provisioner.bootstrap import bootstrap, mqtt_config
from msm_provisioner.bootstrap import prepare as prepare_indexes
from msm_provisioner.deps import Deps
from msm_provisioner.http import admin, hook, ops, responses
from msm_provisioner.settings import ProvisionerSettings

log = logging.getLogger(__name__)


def create_app(
    settings: ProvisionerSettings | None = None,
    *,
    deps: Deps | None = None,
    background: bool = True,
    prepare: bool = True,
    mqtt: bool = True,
) -> Flask:
    """Build the app on `deps` (default: `bootstrap(settings)`; tests build theirs with fakes).

    `background=False` skips the MQTT listener, outbox flushing and reconciling (tests of the
    HTTP side), `mqtt=False` only the MQTT listener; `prepare=False` skips indexes.
    """
    settings = settings or ProvisionerSettings()
    app = Flask("msm_provisioner")
    app.config["MAX_CONTENT_LENGTH"] = settings.provisioner_max_upload_bytes
    deps = deps or bootstrap(settings)
    app.extensions[responses.EXTENSION] = deps
    responses.register(app)
    for bp in (hook.bp, admin.bp, ops.bp):
        app.register_blueprint(bp)

    @app.after_request
    def _headers(resp: Response) -> Response:
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Cache-Control", "no-store")
        return resp

    if prepare:
        prepare_indexes(deps)
    if not settings.hook_token.get_secret_value() and not settings.hook_secret.get_secret_value():
        if settings.env == "local":
            log.warning("no MSM_HOOK_TOKEN or MSM_HOOK_SECRET: the hook accepts anyone (local)")
        else:
            log.warning("no MSM_HOOK_TOKEN or MSM_HOOK_SECRET: the hook refuses every call")
    if settings.provisioner_background and background:
        listener = mqtt_config(settings) if mqtt else None
        app.extensions[ops.BACKGROUND] = Background(deps, listener).start()
    return app


def app_deps(app: Flask) -> Deps:
    found: Deps = app.extensions[responses.EXTENSION]
    return found


def close_app(app: Flask) -> None:
    """Stop the background work and release connections."""
    background: Background | None = app.extensions.get(ops.BACKGROUND)
    if background is not None:
        background.stop()
    app_deps(app).close()
