"""Probes; /metrics is on the ops port (MSM_METRICS_PORT, see server.py). Ready means the hook
can decide: MongoDB answers. RabbitMQ and MQTT are reported but do not gate readiness (the
outbox and the hook's own registration cover them)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app
from msm_common.health import readiness

from msm_provisioner.http.responses import deps, json_response

bp = Blueprint("ops", __name__)
BACKGROUND = "msm_provisioner.background"


@bp.get("/healthz")
def healthz() -> Response:
    return json_response({"status": "ok"})


@bp.get("/readyz")
def readyz() -> Response:
    d = deps()
    result = readiness({"mongo": lambda: bool(d.store.db.command("ping").get("ok"))})
    optional = {"rabbitmq": lambda: d.events.ready}
    background = current_app.extensions.get(BACKGROUND)
    if background is not None:
        optional["mqtt"] = lambda: background.connected
    body = {**result.as_dict(), "optional": readiness(optional).checks}
    return json_response(body, status=200 if result.ready else 503)
