"""`POST /hook`: AWS IoT's pre-provisioning hook (via localiot, or the Lambda adapter).

Every authenticated call gets `200 {"allowProvisioning": ...}`; an event that is not JSON or not
the expected shape is a denial, never an error. Only an unreachable database answers 503 (AWS
then fails the provisioning, the device retries).
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Final

import orjson
from flask import Blueprint, Response, request
from pymongo.errors import PyMongoError

from msm_provisioner.deps import Deps
from msm_provisioner.domain.hook_auth import HookCredentials, check
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
    refused = _refusal(d, credentials(), body)
    if refused is not None:
        d.metrics.hook_auth_failures.inc()
        log.warning("unauthenticated hook call from %s: %s", request.remote_addr, refused)
        return problem(
            ApiError(401, refused, headers={"WWW-Authenticate": 'Bearer realm="msm-hook"'})
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


def _refusal(d: Deps, creds: HookCredentials, body: bytes) -> str | None:
    """Why the call is refused, or None. Without credentials only the local stack is open;
    a signature is good once (replays within its timestamp's skew are refused too)."""
    if not creds.configured:
        return None if d.settings.env == "local" else "the hook has no credentials configured"
    verdict = check(creds, dict(request.headers), body, time.time())
    if not verdict.ok:
        return "hook credentials missing or wrong"
    if verdict.nonce is not None:
        until = datetime.fromtimestamp(verdict.remember_until_s, UTC)
        if not d.nonces.first_use(verdict.nonce, until):
            return "this signed request was already used"
    return None
