"""Registration: a device whose provisioning was allowed enters `devices`, its allowlist entry is
marked provisioned, and `device.provisioned` goes out."""

from __future__ import annotations

import uuid
from typing import Any, Final

from msm_common.contracts.events import DEVICE_PROVISIONED, make_event
from msm_common.contracts.timeparse import format_timestamp

from msm_provisioner.adapters.store import Registration
from msm_provisioner.deps import SOURCE, Deps

EVENT_NAMESPACE: Final = uuid.UUID("0d6f3f0e-5b55-4d1c-9a59-2f6b7d0e4a11")


def register(d: Deps, reg: Registration) -> dict[str, Any] | None:
    """Store the device with its certificate and announce it; the device as it was before."""
    before = d.store.register(reg)
    data = {
        "device_uuid": reg.device_uuid,
        "serial": reg.entry.serial,
        "device_imei": reg.entry.imei,
        "labels": reg.entry.labels,
        "certificate_id": reg.certificate_id,
        "claim_certificate_id": reg.claim_certificate_id,
        "provisioned_at": format_timestamp(reg.at),
        "reason": reg.reason,
        "previous_certificate_id": (before or {}).get("certificate_id"),
    }
    event = make_event(
        DEVICE_PROVISIONED,
        SOURCE,
        reg.device_uuid,
        data,
        id=str(uuid.uuid5(EVENT_NAMESPACE, f"{reg.device_uuid}:{reg.certificate_id}")),
        time=reg.at,
    )
    d.events.publish(event)
    return before
