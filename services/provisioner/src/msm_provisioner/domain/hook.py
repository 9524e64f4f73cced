"""The pre-provisioning hook's decision: may this device register itself?

AWS IoT invokes the hook (payloadVersion 2020-04-01) with `claimCertificateId`,
`certificateId`, `certificatePem`, `templateArn`, `clientId` and `parameters`; the answer is
`{"allowProvisioning": bool, "parameterOverrides": {...}}`. `read_event` turns the raw JSON into
a `HookEvent` (or `Malformed`); `decide` is a pure function of that event and what the caller
looked up: the allowlist entry, the device already registered under that serial, the claim
certificate's usage, the policy, and the time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final, Literal

from msm_common.identifiers import THING_NAME_RE

SERIAL_PARAMETER: Final = "SerialNumber"
IMEI_OVERRIDE: Final = "DeviceImei"
LABELS_OVERRIDE: Final = "DeviceLabels"

SERIAL_RE: Final = THING_NAME_RE  # it becomes the thing name
_CERT_ID_RE: Final = re.compile(r"[A-Za-z0-9]{1,128}")
MAX_TEXT: Final = 2048
MAX_PEM: Final = 16_384

# Reasons: what the audit log and the attempts list show.
ALLOWED: Final = "allowed"
REPEATED: Final = "repeated"  # the same new certificate asked again (AWS retries the hook)
REPROVISIONED: Final = "reprovisioned"
ROTATION: Final = "rotation"
MALFORMED: Final = "malformed"
NOT_LISTED: Final = "not_listed"
BLOCKED: Final = "blocked"
ALREADY_PROVISIONED: Final = "already_provisioned"
DECOMMISSIONED: Final = "decommissioned"
QUOTA_EXCEEDED: Final = "quota_exceeded"
RATE_LIMITED: Final = "rate_limited"

Reprovision = Literal["never", "reset"]


@dataclass(frozen=True)
class HookEvent:
    claim_certificate_id: str
    certificate_id: str
    serial: str
    template_arn: str = ""
    client_id: str = ""
    certificate_pem: str | None = None
    parameters: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Malformed:
    detail: str


@dataclass(frozen=True)
class AllowlistEntry:
    serial: str
    imei: str
    labels: dict[str, str] = field(default_factory=dict)
    status: str = "available"  # available | provisioned | blocked


@dataclass(frozen=True)
class ExistingDevice:
    device_uuid: str
    status: str  # active | decommissioned
    certificate_id: str | None = None
    rotation_requested_at: datetime | None = None


@dataclass(frozen=True)
class ClaimUsage:
    provisioned: int  # devices registered through this claim certificate
    recent_attempts: int  # hook calls for it within the last minute


@dataclass(frozen=True)
class HookPolicy:
    reprovision: Reprovision = "never"
    quota: int = 10_000
    rate_per_minute: int = 600
    rotation_timeout: timedelta = timedelta(hours=1)


@dataclass(frozen=True)
class Decision:
    allow: bool
    reason: str
    overrides: dict[str, str] = field(default_factory=dict)

    def answer(self) -> dict[str, Any]:
        """The hook's answer, in AWS's shape."""
        body: dict[str, Any] = {"allowProvisioning": self.allow}
        if self.allow:
            body["parameterOverrides"] = dict(self.overrides)
        return body

    @property
    def registers(self) -> bool:
        """Whether the device record takes the event's certificate."""
        return self.allow and self.reason != REPEATED


def deny(reason: str) -> Decision:
    return Decision(False, reason)


def read_event(raw: object) -> HookEvent | Malformed:
    """Check the event's shape; anything unexpected is `Malformed`, never an exception."""
    if not isinstance(raw, dict):
        return Malformed("the event is not a JSON object")
    claim = raw.get("claimCertificateId")
    cert = raw.get("certificateId")
    if not isinstance(claim, str) or not _is_cert_id(claim):
        return Malformed("claimCertificateId is missing or invalid")
    if not isinstance(cert, str) or not _is_cert_id(cert):
        return Malformed("certificateId is missing or invalid")
    params = raw.get("parameters")
    if not isinstance(params, dict):
        return Malformed("parameters must be an object")
    if not all(isinstance(k, str) and _is_text(v) for k, v in params.items()):
        return Malformed("parameters must map names to strings")
    serial = params.get(SERIAL_PARAMETER)
    if not isinstance(serial, str) or SERIAL_RE.fullmatch(serial) is None:
        return Malformed(f"parameters.{SERIAL_PARAMETER} is missing or not a valid thing name")
    texts = {k: raw.get(k, "") for k in ("templateArn", "clientId")}
    if not all(_is_text(v) for v in texts.values()):
        return Malformed("templateArn and clientId must be strings")
    pem = raw.get("certificatePem")
    if pem is not None and not (isinstance(pem, str) and len(pem) <= MAX_PEM):
        return Malformed("certificatePem must be a PEM string")
    return HookEvent(
        claim_certificate_id=claim,
        certificate_id=cert,
        serial=serial,
        template_arn=texts["templateArn"],
        client_id=texts["clientId"],
        certificate_pem=pem,
        parameters=dict(params),
    )


def decide(
    event: HookEvent | Malformed,
    allowlist_entry: AllowlistEntry | None,
    existing_device: ExistingDevice | None,
    claim_usage: ClaimUsage,
    *,
    policy: HookPolicy,
    now: datetime,
) -> Decision:
    """Allow only listed serials, once (unless reprovisioning or rotating), within the claim
    certificate's rate and quota."""
    if isinstance(event, Malformed):
        return deny(MALFORMED)
    if claim_usage.recent_attempts >= policy.rate_per_minute:
        return deny(RATE_LIMITED)
    if allowlist_entry is None or allowlist_entry.serial != event.serial:
        return deny(NOT_LISTED)
    if allowlist_entry.status == "blocked":
        return deny(BLOCKED)
    device = existing_device
    if device is not None:
        if device.status == "decommissioned":
            return deny(DECOMMISSIONED)
        if device.certificate_id == event.certificate_id:
            return _allow(REPEATED, allowlist_entry)
        if _rotation_pending(device, policy, now):
            return _allow(ROTATION, allowlist_entry)
        if policy.reprovision == "reset":
            return _allow(REPROVISIONED, allowlist_entry)
        return deny(ALREADY_PROVISIONED)
    if claim_usage.provisioned >= policy.quota:
        return deny(QUOTA_EXCEEDED)
    return _allow(ALLOWED, allowlist_entry)


def overrides_for(entry: AllowlistEntry) -> dict[str, str]:
    """Template parameters the manifest knows better than the device: IMEI and labels."""
    found = {IMEI_OVERRIDE: entry.imei}
    if entry.labels:
        found[LABELS_OVERRIDE] = ",".join(f"{k}={v}" for k, v in sorted(entry.labels.items()))
    return found


def _allow(reason: str, entry: AllowlistEntry) -> Decision:
    return Decision(True, reason, overrides_for(entry))


def _rotation_pending(device: ExistingDevice, policy: HookPolicy, now: datetime) -> bool:
    at = device.rotation_requested_at
    return at is not None and now - at <= policy.rotation_timeout


def _is_cert_id(value: object) -> bool:
    return isinstance(value, str) and _CERT_ID_RE.fullmatch(value) is not None


def _is_text(value: object) -> bool:
    return isinstance(value, str) and len(value) <= MAX_TEXT
