"""Helpers for the provisioner's integration tests: fakes of our own interfaces, a JWKS server,
access tokens shaped like the api's, hook events shaped like AWS's."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import jwt
from bson import ObjectId
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from jwt.algorithms import OKPAlgorithm
from msm_common.contracts.events import CloudEvent
from msm_provisioner.domain.allowlist import imei_with_check_digit
from support.certs import self_signed
from support.json_stub import JsonStub
from support.tokens import access_claims

HOOK_TOKEN = "hook-token-" + "x" * 24
HOOK_SECRET = "hook-secret-" + "y" * 24
CLAIM_ID = "c1a1" * 16


class RecordingEvents:
    """An EventSink that keeps what was published."""

    def __init__(self) -> None:
        self.events: list[CloudEvent] = []

    @property
    def ready(self) -> bool:
        return True

    def publish(self, event: CloudEvent) -> None:
        self.events.append(event)

    def flush(self) -> int:
        return 0

    def close(self) -> None:
        pass


class RecordingRotation:
    """A RotationSignal that keeps the requests it was asked to send."""

    def __init__(self, works: bool = True) -> None:
        self.works = works
        self.requests: list[tuple[str, dict[str, Any] | None]] = []

    def request(self, thing: str, request: dict[str, Any] | None) -> bool:
        self.requests.append((thing, request))
        return self.works


def serials(n: int) -> list[str]:
    prefix = f"IT-{uuid.uuid4().hex[:6]}-"
    return [f"{prefix}{i:03d}" for i in range(1, n + 1)]


def manifest(serial_list: list[str], labels: str = "fleet=it") -> str:
    base = uuid.uuid4().int % 10**8
    rows = [
        f"{s},{imei_with_check_digit(f'357{base:08d}{i:03d}')},{labels}"
        for i, s in enumerate(serial_list)
    ]
    return "serial,imei,labels\n" + "\n".join(rows) + "\n"


def cert_id() -> str:
    return uuid.uuid4().hex + uuid.uuid4().hex


def self_signed_pem(cn: str = "device", days: int = 365) -> str:
    _key, cert = self_signed(cn, days=days, not_before=timedelta(minutes=1))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def hook_event(serial: str, certificate_id: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "claimCertificateId": extra.pop("claim", CLAIM_ID),
        "certificateId": certificate_id or cert_id(),
        "certificatePem": extra.pop("pem", None) or self_signed_pem(serial),
        "templateArn": "arn:aws:iot:us-east-1:123456789012:provisioningtemplate/msm-meter",
        "clientId": "",
        "parameters": {"SerialNumber": serial, **extra},
    }


def post_hook(client: Any, event: Any) -> Any:
    body = event if isinstance(event, bytes) else json.dumps(event).encode()
    return client.post(
        "/hook",
        data=body,
        content_type="application/json",
        headers={"Authorization": f"Bearer {HOOK_TOKEN}"},
    )


def add_account(db: Any, roles: list[str], username: str = "alice", **fields: Any) -> str:
    """An account in the api's `users` collection, as the api stores it; returns its id."""
    oid = ObjectId()
    db["users"].insert_one(
        {
            "_id": oid,
            "username": username,
            "email": f"{oid}@example.com",
            "roles": roles,
            "disabled": False,
            "token_version": 0,
            **fields,
        }
    )
    return str(oid)


class JwksServer:
    """Serves a JWKS over HTTP like the api does, and signs tokens like the api does."""

    def __init__(self) -> None:
        self.key = ed25519.Ed25519PrivateKey.generate()
        self.kid = uuid.uuid4().hex[:16]
        jwk = json.loads(OKPAlgorithm.to_jwk(self.key.public_key()))
        jwk.update({"kid": self.kid, "alg": "EdDSA", "use": "sig"})
        self.stub = JsonStub(lambda: {"keys": [jwk]})

    @property
    def hits(self) -> int:
        return len(self.stub.calls)

    @property
    def url(self) -> str:
        return self.stub.url("/api/auth/jwks.json")

    def __enter__(self) -> JwksServer:
        self.stub.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stub.__exit__(*exc)

    def token(self, roles: list[str], *, key: Any = None, **claims: Any) -> str:
        body = access_claims(**{"sub": "u1", "roles": roles, "ver": 0, **claims})
        return jwt.encode(
            body, key or self.key, algorithm="EdDSA", headers={"kid": self.kid, "typ": "JWT"}
        )
