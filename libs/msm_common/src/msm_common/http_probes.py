"""/healthz and /readyz on a service's Flask blueprint.

Alive while the process answers; ready when every required dependency answers. Dependencies a
service only reports (they do not gate readiness) are listed under "optional".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import orjson
from flask import Blueprint, Response

from msm_common.health import Check, readiness

Checks = Callable[[], Mapping[str, Check]]  # called per request (in the app's context)


def _json(payload: object, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status=status, mimetype="application/json")


def add_probes(bp: Blueprint, required: Checks, optional: Checks | None = None) -> None:
    """Serve GET /healthz and /readyz (503 unless every `required` check passes) on `bp`."""

    @bp.get("/healthz")
    def healthz() -> Response:
        return _json({"status": "ok"})

    @bp.get("/readyz")
    def readyz() -> Response:
        result = readiness(required())
        body = result.as_dict()
        if optional is not None:
            body["optional"] = readiness(optional()).checks
        return _json(body, status=200 if result.ready else 503)
