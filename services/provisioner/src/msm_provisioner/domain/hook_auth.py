"""Who may call the hook: a shared bearer token, or an HMAC-SHA256 signature of the request.

Signature scheme (the Lambda adapter in deploy/aws/hook_lambda.py speaks it):
`X-MSM-Timestamp: <unix seconds>` and `X-MSM-Signature: sha256=<hex>` where the MAC is
HMAC-SHA256(MSM_HOOK_SECRET, "<timestamp>." + body). The timestamp must be within the allowed
skew, so a captured request cannot be replayed later; within the skew each signature is
accepted once (the caller remembers `Verdict.nonce` until `Verdict.remember_until_s`).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

SIGNATURE_HEADER: Final = "X-MSM-Signature"
TIMESTAMP_HEADER: Final = "X-MSM-Timestamp"
_PREFIX: Final = "sha256="


@dataclass(frozen=True)
class HookCredentials:
    token: str = ""
    secret: str = ""
    max_skew_s: int = 300

    @property
    def configured(self) -> bool:
        return bool(self.token or self.secret)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return _PREFIX + mac.hexdigest()


@dataclass(frozen=True)
class Verdict:
    ok: bool
    nonce: str | None = None  # a signed call's signature: to be accepted only once
    remember_until_s: float = 0.0  # after this the timestamp check refuses it anyway


REFUSED: Final = Verdict(ok=False)


def check(creds: HookCredentials, headers: Mapping[str, str], body: bytes, now_s: float) -> Verdict:
    """Whether the request carries the right token or a fresh, valid signature."""
    headers = {k.lower(): v for k, v in headers.items()}
    if creds.token:
        scheme, _, given = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), creds.token.encode()
        ):
            return Verdict(ok=True)
    if creds.secret:
        signature = headers.get(SIGNATURE_HEADER.lower(), "")
        stamp = headers.get(TIMESTAMP_HEADER.lower(), "")
        if not stamp.isdigit() or len(stamp) > 12 or not signature.startswith(_PREFIX):
            return REFUSED
        if abs(now_s - int(stamp)) > creds.max_skew_s:
            return REFUSED
        if hmac.compare_digest(signature.encode(), sign(creds.secret, int(stamp), body).encode()):
            return Verdict(ok=True, nonce=signature, remember_until_s=int(stamp) + creds.max_skew_s)
    return REFUSED


def authenticated(
    creds: HookCredentials, headers: Mapping[str, str], body: bytes, now_s: float
) -> bool:
    """True if the request carries the right token or a fresh, valid signature."""
    return check(creds, headers, body, now_s).ok
