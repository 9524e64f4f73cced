"""The pre-provisioning hook: AWS invokes a Lambda; locally we POST the same event to a URL.

Event (payloadVersion 2020-04-01): `claimCertificateId`, `certificateId`, `certificatePem`,
`templateArn`, `clientId`, `parameters`. Answer: `{"allowProvisioning": bool,
"parameterOverrides": {...}}`. A hook that fails, times out or answers anything else fails the
provisioning, as on AWS.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Protocol


class HookError(RuntimeError):
    """The hook could not be called or gave no valid answer."""


@dataclass(frozen=True)
class HookAnswer:
    allow: bool
    overrides: dict[str, Any] = field(default_factory=dict)


class Hook(Protocol):
    def __call__(self, url: str, event: dict[str, Any]) -> HookAnswer: ...


class HttpHook:
    def __init__(self, token: str = "", timeout_s: float = 5.0) -> None:
        self._token = token
        self._timeout_s = timeout_s

    def __call__(self, url: str, event: dict[str, Any]) -> HookAnswer:
        if not url.startswith(("http://", "https://")):
            raise HookError(f"hook target {url!r} is not an http(s) URL")
        headers = {"Content-Type": "application/json"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        request = urllib.request.Request(  # noqa: S310 (scheme checked above)
            url, data=json.dumps(event).encode(), headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout_s) as response:  # noqa: S310
                answer = json.loads(response.read() or b"null")
        except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
            raise HookError(f"pre-provisioning hook {url} failed: {exc}") from exc
        return parse_answer(answer)


def parse_answer(answer: object) -> HookAnswer:
    if not isinstance(answer, dict) or not isinstance(answer.get("allowProvisioning"), bool):
        raise HookError("the hook's answer has no boolean allowProvisioning")
    overrides = answer.get("parameterOverrides") or {}
    if not isinstance(overrides, dict):
        raise HookError("parameterOverrides must be an object")
    return HookAnswer(answer["allowProvisioning"], overrides)
