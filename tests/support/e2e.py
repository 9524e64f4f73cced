"""Small helpers for end-to-end tests that run the services as processes."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from typing import Any

from support.services import ROOT
from support.waiting import wait_for

__all__ = ["answers", "free_port", "http", "mqtt_identity", "ok", "ready", "wait_for"]


def mqtt_identity(service: str) -> dict[str, str]:
    """The environment that makes a service process connect as its own MQTT identity (least
    privilege: deploy/local/mosquitto/acl.base), whatever the caller's environment says."""
    pki = ROOT / ".local" / "pki"
    return {
        "MSM_MQTT_CERT_FILE": str(pki / f"{service}.crt"),
        "MSM_MQTT_KEY_FILE": str(pki / f"{service}.key"),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def answers(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def ok(url: str, timeout: float = 2) -> bool:
    """`GET url` answers 200 (an error, a refused connection or a timeout: False)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def ready(port: int) -> bool:
    """The service on `port` says it is ready (`GET /readyz` answers 200)."""
    return ok(f"http://127.0.0.1:{port}/readyz")


def http(method: str, url: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
    """(status, decoded JSON body) of one request; HTTP errors are answers, not exceptions."""
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"} if data is not None else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=15) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")
