"""`POST /hook`: AWS IoT's pre-provisioning hook (via localiot, or the Lambda adapter).

Every authenticated call gets `200 {"allowProvisioning": ...}`; an event that is not JSON or not
the expected shape is a denial, never an error. Only an unreachable database answers 503 (AWS
then fails the provisioning, the device retries).
"""

from __future__ import annotations

import logging
import time
from typing import Final

import orjson
from flask import Blueprint, Response, request
from pymongo.errors import PyMongoError

from msm_provisioner.domain.hook_auth import HookCredentials, authenticated
from msm_provisioner.handlers.hook import handle_hook
from msm_provisioner.http.responses import ApiError, deps, json_response, problem

log = logging.getLogger(__name__)
bp = Blueprint("hook", __name__)
MAX_EVENT_BYTES: Final = 64 * 1024


def credentials() -> HookCredentials:
    s = deps().settings
    return HookCredentials(
        token=s.hook_token.get_secret_value(),
        secret=s.hook_secret.get_secret_value(),
        max_skew_s=s.hook_max_skew_s,
    )


@bp.post("/hook")
def hook() -> Response:
    d = deps()
    started = time.perf_counter()
    body = request.get_data(cache=False)
    creds = credentials()
    if creds.configured and not authenticated(creds, dict(request.headers), body, time.time()):
        d.metrics.hook_auth_failures.inc()
        log.warning("unauthenticated hook call from %s", request.remote_addr)
        return problem(
            ApiError(
                401,
                "hook credentials missing or wrong",
                headers={"WWW-Authenticate": 'Bearer realm="msm-hook"'},
            )
        )
    raw: object = None
    if len(body) <= MAX_EVENT_BYTES:
        try:
            raw = orjson.loads(body)
        except orjson.JSONDecodeError:
            raw = None
    try:
        decision = handle_hook(d, raw, ip=request.remote_addr)
    except PyMongoError as exc:
        log.error("hook cannot decide, database unavailable: %s", exc)
        return problem(ApiError(503, "cannot decide now", headers={"Retry-After": "5"}))
    finally:
        d.metrics.hook_latency.observe(time.perf_counter() - started)
    return json_response(decision.answer())
