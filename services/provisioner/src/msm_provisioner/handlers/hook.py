"""The pre-provisioning hook: decide, record the attempt and the audit entry, register."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import Any

from msm_provisioner.adapters.store import Registration
from msm_provisioner.deps import Deps
from msm_provisioner.domain import hook as rules
from msm_provisioner.domain.certificates import not_after
from msm_provisioner.handlers.registration import register

log = logging.getLogger(__name__)
RATE_WINDOW = timedelta(minutes=1)


def handle_hook(d: Deps, raw: object, *, ip: str | None = None) -> rules.Decision:
    """Answer one hook event. Storage errors propagate (the caller answers 503)."""
    now = d.clock()
    event = rules.read_event(raw)
    entry = device = None
    usage = rules.ClaimUsage(provisioned=0, recent_attempts=0)
    if isinstance(event, rules.HookEvent):
        entry = d.store.allowlist_entry(event.serial)
        device = d.store.existing_device(event.serial)
        usage = d.store.claim_usage(event.claim_certificate_id, now - RATE_WINDOW)
    decision = rules.decide(event, entry, device, usage, policy=d.policy, now=now)
    attempt_id = uuid.uuid4().hex
    _record(d, attempt_id, raw, event, decision=decision, ip=ip)
    d.metrics.decisions.labels("allowed" if decision.allow else "denied", decision.reason).inc()
    if isinstance(event, rules.HookEvent) and entry is not None and decision.registers:
        register(
            d,
            Registration(
                device_uuid=event.serial,  # the template names the thing after the serial
                entry=entry,
                certificate_id=event.certificate_id,
                certificate_expires_at=not_after(event.certificate_pem),
                claim_certificate_id=event.claim_certificate_id,
                template_arn=event.template_arn,
                reason=decision.reason,
                at=now,
            ),
        )
    log.info(
        "hook %s %s: %s",
        "allowed" if decision.allow else "denied",
        getattr(event, "serial", None),
        decision.reason,
        extra={"device_uuid": getattr(event, "serial", None), "attempt_id": attempt_id},
    )
    return decision


def _record(
    d: Deps,
    attempt_id: str,
    raw: object,
    event: rules.HookEvent | rules.Malformed,
    *,
    decision: rules.Decision,
    ip: str | None,
) -> None:
    now = d.clock()
    fields: dict[str, Any]
    if isinstance(event, rules.HookEvent):
        fields = {
            "serial": event.serial,
            "claim_certificate_id": event.claim_certificate_id,
            "certificate_id": event.certificate_id,
            "template_arn": event.template_arn,
            "client_id": event.client_id,
        }
        actor = f"claim:{event.claim_certificate_id}"
    else:
        fields = {"serial": _loose_serial(raw), "detail": event.detail}
        actor = "unknown"
    outcome = "allowed" if decision.allow else "denied"
    d.store.record_attempt(
        {
            "_id": attempt_id,
            "at": now,
            "outcome": outcome,
            "reason": decision.reason,
            "ip": ip,
            **fields,
        }
    )
    d.store.audit(
        {
            "at": now,
            "actor": actor,
            "action": "provisioning.hook",
            "target": fields.get("serial"),
            "ip": ip,
            "result": "ok" if decision.allow else "denied",
            "details": {"reason": decision.reason, "attempt_id": attempt_id, **fields},
        }
    )


def _loose_serial(raw: object) -> str | None:
    """The serial a malformed event seems to name, for the record (bounded)."""
    params = raw.get("parameters") if isinstance(raw, dict) else None
    serial = params.get(rules.SERIAL_PARAMETER) if isinstance(params, dict) else None
    return serial[:128] if isinstance(serial, str) else None
