"""Probes; /metrics is on the ops port (MSM_METRICS_PORT, see server.py). Ready means the hook
can decide: MongoDB answers. RabbitMQ and MQTT are reported but do not gate readiness (the
outbox and the hook's own registration cover them)."""

from __future__ import annotations

from flask import Blueprint, current_app
from msm_common.health import Check
from msm_common.http_probes import add_probes

from msm_provisioner.http.responses import deps

bp = Blueprint("ops", __name__)
BACKGROUND = "msm_provisioner.background"


def _optional() -> dict[str, Check]:
    d = deps()
    checks: dict[str, Check] = {"rabbitmq": lambda: d.events.ready}
    background = current_app.extensions.get(BACKGROUND)
    if background is not None:
        checks["mqtt"] = lambda: background.connected
    return checks


add_probes(
    bp, lambda: {"mongo": lambda: bool(deps().store.db.command("ping").get("ok"))}, _optional
)
