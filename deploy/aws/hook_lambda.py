"""AWS Lambda adapter: AWS IoT's pre-provisioning hook -> msm-provisioner's `POST /hook`.

AWS IoT can only call a Lambda as a template's pre-provisioning hook. This function forwards
the event unchanged, signed with HMAC-SHA256 (and/or a bearer token), and returns the
provisioner's answer. Anything that goes wrong — timeout, TLS error, non-200, an answer of the
wrong shape — is a denial: a device is never let in because the hook could not be asked.

Environment (set on the function; keep the secret in an encrypted variable or Secrets Manager):
  MSM_PROVISIONER_HOOK_URL   https://provisioner.example.internal/hook
  MSM_HOOK_SECRET            shared with the provisioner (MSM_HOOK_SECRET there), >= 24 chars
  MSM_HOOK_TOKEN             optional: sent as `Authorization: Bearer <token>`
  MSM_HOOK_TIMEOUT_S         optional, default 4 (AWS gives the hook 5 s in all)

Signature: `X-MSM-Timestamp: <unix seconds>`, `X-MSM-Signature: sha256=<hex HMAC-SHA256 of
"<timestamp>." + body>`. Standard library only, so it deploys as a single file (handler
`hook_lambda.handler`, Python 3.11+).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

log = logging.getLogger("msm-hook-lambda")
log.setLevel(logging.INFO)

DENY: dict[str, Any] = {"allowProvisioning": False}
Post = Callable[[str, bytes, dict[str, str], float], tuple[int, bytes]]


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


_LOOPBACK = ("http://127.0.0.1:", "http://127.0.0.1/", "http://localhost:", "http://localhost/")


def _post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int, bytes]:
    # The secret's MAC and the device's certificate travel in this request: https only (plain
    # http only to a loopback address, for tests of this adapter).
    if not url.startswith(("https://", *_LOOPBACK)):
        raise ValueError("MSM_PROVISIONER_HOOK_URL must be an https URL")
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return int(response.status), response.read(65536)
    except urllib.error.HTTPError as exc:
        return int(exc.code), b""


def _answer(status: int, payload: bytes) -> dict[str, Any]:
    if status != 200:
        log.warning("provisioner answered HTTP %s: denying", status)
        return DENY
    try:
        answer = json.loads(payload)
    except ValueError:
        log.warning("provisioner answer is not JSON: denying")
        return DENY
    if not isinstance(answer, dict) or answer.get("allowProvisioning") is not True:
        return DENY
    overrides = answer.get("parameterOverrides") or {}
    if not isinstance(overrides, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in overrides.items()
    ):
        log.warning("provisioner overrides are not strings: denying")
        return DENY
    return {"allowProvisioning": True, "parameterOverrides": overrides}


def handler(
    event: Any,
    context: Any = None,
    *,
    post: Post | None = None,
    now: Callable[[], float] = time.time,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The Lambda entry point (`post`, `now`, `env` are for tests)."""
    env = dict(os.environ) if env is None else env
    url = env.get("MSM_PROVISIONER_HOOK_URL", "")
    secret = env.get("MSM_HOOK_SECRET", "")
    token = env.get("MSM_HOOK_TOKEN", "")
    if not url or not (secret or token):
        log.error("MSM_PROVISIONER_HOOK_URL and MSM_HOOK_SECRET (or MSM_HOOK_TOKEN) are required")
        return DENY
    timeout = float(env.get("MSM_HOOK_TIMEOUT_S", "4"))
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if callable(remaining):
        timeout = max(0.5, min(timeout, remaining() / 1000.0 - 0.3))
    body = json.dumps(event, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json"}
    if secret:
        stamp = int(now())
        headers["X-MSM-Timestamp"] = str(stamp)
        headers["X-MSM-Signature"] = sign(secret, stamp, body)
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        status, payload = (post or _post)(url, body, headers, timeout)
    except (OSError, ValueError) as exc:  # URLError, timeouts, TLS errors are OSErrors
        log.warning("provisioner unreachable (%s): denying", exc)
        return DENY
    return _answer(status, payload)
