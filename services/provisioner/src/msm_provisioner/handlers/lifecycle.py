"""Certificate lifecycle: decommission, rotation (request and completion), expiring certificates.

Rotation is re-provisioning: the operator marks the device, the device is told through its shadow
(`desired.certificate_rotation`) and runs the claim flow again; the hook lets that serial through
once (whatever the reprovision policy), and `reconcile` retires the old certificate as soon as the
new one is attached to the thing — or gives the old one back if the new one never arrives.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import Any

from msm_common.contracts.timeparse import format_timestamp

from msm_provisioner.adapters.store import Registration
from msm_provisioner.deps import Deps
from msm_provisioner.domain.certificates import certificate_id_of_arn, not_after
from msm_provisioner.handlers.errors import Conflict, NotFound
from msm_provisioner.handlers.registration import register

log = logging.getLogger(__name__)
Document = dict[str, Any]
RETIRED_STATUS = "INACTIVE"


def decommission(d: Deps, device_uuid: str, *, status: str, actor: str) -> Document:
    """Lock the device out for good: certificates off, principals detached, thing deleted."""
    doc = d.store.device(device_uuid)
    if doc is None:
        raise NotFound(device_uuid)
    principals = d.registry.thing_principals(device_uuid)
    cert_ids = {certificate_id_of_arn(arn) for arn in principals}
    cert_ids |= {c for c in [doc.get("certificate_id")] if c}
    cert_ids |= {r["certificate_id"] for r in doc.get("retiring") or []}
    for cert_id in sorted(cert_ids):  # first: once a certificate is off, the device is out
        d.registry.set_certificate_status(cert_id, status)
    for arn in principals:
        d.registry.detach(device_uuid, arn)
    d.registry.delete_thing(device_uuid)
    now = d.clock()
    updated = d.store.update_device(
        device_uuid,
        {
            "$set": {
                "status": "decommissioned",
                "decommissioned_at": doc.get("decommissioned_at") or now,
                "updatedAt": now,
                "decommission": {
                    "by": actor,
                    "certificate_status": status,
                    "certificates": sorted(cert_ids),
                },
            },
            "$unset": {"retiring": "", "rotation": ""},
        },
    )
    d.store.set_allowlist_status(doc.get("serial") or device_uuid, "blocked", now)
    d.metrics.lifecycle.labels("decommission").inc()
    log.info("decommissioned %s", device_uuid, extra={"device_uuid": device_uuid})
    return updated or doc


def request_rotation(d: Deps, device_uuid: str, *, actor: str) -> Document:
    """Mark the device for a new certificate and tell it through its shadow."""
    doc = d.store.device(device_uuid)
    if doc is None:
        raise NotFound(device_uuid)
    if doc.get("status") == "decommissioned":
        raise Conflict("the device is decommissioned")
    now = d.clock()
    rotation: Document = {
        "request_id": uuid.uuid4().hex,
        "status": "pending",
        "requested_at": now,
        "requested_by": actor,
        "from_certificate_id": doc.get("certificate_id"),
        "expires_at": now + timedelta(seconds=d.settings.provisioner_rotation_timeout_s),
    }
    signalled = d.rotation.request(
        device_uuid,
        {
            "request_id": rotation["request_id"],
            "requested_at": format_timestamp(now),
            "template": d.settings.provisioner_template_name,
        },
    )
    rotation["signalled"] = signalled
    d.store.update_device(device_uuid, {"$set": {"rotation": rotation, "updatedAt": now}})
    d.metrics.lifecycle.labels("rotation_requested").inc()
    return rotation


def reconcile(d: Deps) -> list[str]:
    """Retire certificates replaced by a new one that is now attached; the ids retired."""
    retired: list[str] = []
    now = d.clock()
    timeout = timedelta(seconds=d.settings.provisioner_rotation_timeout_s)
    for doc in d.store.devices_retiring():
        thing = doc["_id"]
        attached = {certificate_id_of_arn(a): a for a in d.registry.thing_principals(thing)}
        current = doc.get("certificate_id")
        for old in doc.get("retiring") or []:
            old_id = old["certificate_id"]
            if current in attached:
                d.registry.set_certificate_status(old_id, RETIRED_STATUS)
                if old_id in attached:
                    d.registry.detach(thing, attached[old_id])
                d.store.update_device(
                    thing,
                    {
                        "$pull": {"retiring": {"certificate_id": old_id}},
                        "$push": {
                            "retired_certificates": {
                                "certificate_id": old_id,
                                "replaced_by": current,
                                "retired_at": now,
                            }
                        },
                    },
                )
                retired.append(old_id)
                d.metrics.lifecycle.labels("certificate_retired").inc()
            elif now - old["since"] > timeout and old.get("replaced_by") == current:
                log.warning("%s: new certificate never attached; keeping %s", thing, old_id)
                d.store.update_device(
                    thing,
                    {
                        "$pull": {"retiring": {"certificate_id": old_id}},
                        "$set": {"certificate_id": old_id, "rotation.status": "failed"},
                    },
                )
        rotation = doc.get("rotation") or {}
        if current in attached and rotation.get("status") == "provisioned":
            d.store.update_device(
                thing, {"$set": {"rotation.status": "completed", "rotation.completed_at": now}}
            )
            d.rotation.request(thing, None)
    return retired


def on_thing_created(d: Deps, thing: str, payload: Document) -> bool:
    """A thing appeared in the registry; register it if the hook did not. True if registered."""
    now = d.clock()
    registry_info = {"thing_id": payload.get("thingId"), "created_seen_at": now}
    if d.store.device(thing) is not None:
        d.store.update_device(thing, {"$set": {"registry": registry_info}})
        return False
    entry = d.store.allowlist_entry(thing)
    if entry is None or entry.status == "blocked":
        log.warning("thing %s was created but is not on the allowlist", thing)
        d.store.audit(
            {
                "at": now,
                "actor": "aws-iot",
                "action": "provisioning.unlisted_thing",
                "target": thing,
                "ip": None,
                "result": "denied",
                "details": registry_info,
            }
        )
        return False
    principals = d.registry.thing_principals(thing)
    if not principals:
        return False
    cert = d.registry.certificate(certificate_id_of_arn(principals[-1]))
    if cert is None:
        return False
    register(
        d,
        Registration(
            device_uuid=thing,
            entry=entry,
            certificate_id=cert.certificate_id,
            certificate_expires_at=not_after(cert.pem),
            claim_certificate_id=None,
            template_arn="",
            reason="registry_event",
            at=now,
        ),
    )
    d.store.update_device(thing, {"$set": {"registry": registry_info}})
    return True


def expiring(d: Deps, days: int, limit: int) -> list[Document]:
    return d.store.expiring(d.clock() + timedelta(days=days), limit)
