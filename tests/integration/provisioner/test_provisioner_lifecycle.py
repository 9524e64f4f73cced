"""Certificate lifecycle against the registry (moto): decommission, rotation, expiry, and
registration from the registry's thing-created event."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from msm_provisioner.background import handle_thing_event
from msm_provisioner.handlers import lifecycle
from msm_provisioner.handlers.errors import Conflict, NotFound
from provisioner_helpers import hook_event, manifest, post_hook, self_signed_pem, serials

pytestmark = pytest.mark.integration


def provision(client: Any, iot: Any, serial: str) -> dict[str, Any]:
    """What localiot does for an allowed device: cert + thing in the registry, attached."""
    cert = iot.create_keys_and_certificate(setAsActive=True)
    event = hook_event(serial, cert["certificateId"], pem=cert["certificatePem"])
    assert post_hook(client, event).json["allowProvisioning"] is True
    iot.create_thing(thingName=serial)
    iot.attach_thing_principal(thingName=serial, principal=cert["certificateArn"])
    return cert


def provisioned(client: Any, allow: Any, iot: Any) -> tuple[str, dict[str, Any]]:
    """A new serial, allowed and provisioned: (serial, its certificate)."""
    (serial,) = serials(1)
    allow(manifest([serial]))
    return serial, provision(client, iot, serial)


def status(iot: Any, cert_id: str) -> str:
    return str(iot.describe_certificate(certificateId=cert_id)["certificateDescription"]["status"])


def test_decommission_locks_the_device_out(client: Any, deps: Any, allow: Any, iot: Any) -> None:
    serial, cert = provisioned(client, allow, iot)

    doc = lifecycle.decommission(deps, serial, status="REVOKED", actor="alice")

    assert doc["status"] == "decommissioned" and doc["decommissioned_at"] is not None
    assert status(iot, cert["certificateId"]) == "REVOKED"
    assert iot.list_principal_things(principal=cert["certificateArn"])["things"] == []
    with pytest.raises(iot.exceptions.ResourceNotFoundException):
        iot.describe_thing(thingName=serial)
    assert deps.store.allowlist_entry(serial).status == "blocked"
    # It cannot come back through the claim flow, whatever the reprovision policy.
    assert post_hook(client, hook_event(serial)).json == {"allowProvisioning": False}
    # Decommissioning again is harmless.
    assert lifecycle.decommission(deps, serial, status="REVOKED", actor="alice")["status"] == (
        "decommissioned"
    )


def test_decommission_of_an_unknown_device(deps: Any) -> None:
    with pytest.raises(NotFound):
        lifecycle.decommission(deps, "no-such-device", status="INACTIVE", actor="alice")


def test_rotation_re_provisions_then_retires_the_old_certificate(
    client: Any, deps: Any, allow: Any, iot: Any
) -> None:
    serial, old = provisioned(client, allow, iot)
    assert post_hook(client, hook_event(serial)).json["allowProvisioning"] is False

    rotation = lifecycle.request_rotation(deps, serial, actor="alice")
    assert rotation["status"] == "pending" and rotation["signalled"] is True
    assert deps.rotation.requests[0][0] == serial

    # The device runs the claim flow again: allowed once, for rotation.
    new = iot.create_keys_and_certificate(setAsActive=True)
    event = hook_event(serial, new["certificateId"], pem=new["certificatePem"])
    assert post_hook(client, event).json["allowProvisioning"] is True
    assert lifecycle.reconcile(deps) == []  # the new certificate is not attached yet
    assert status(iot, old["certificateId"]) == "ACTIVE"

    iot.attach_thing_principal(thingName=serial, principal=new["certificateArn"])
    assert lifecycle.reconcile(deps) == [old["certificateId"]]

    assert status(iot, old["certificateId"]) == "INACTIVE"
    principals = iot.list_thing_principals(thingName=serial)["principals"]
    assert principals == [new["certificateArn"]]
    device = deps.store.device(serial)
    assert device["certificate_id"] == new["certificateId"]
    assert device["rotation"]["status"] == "completed"
    assert device["retired_certificates"][0]["certificate_id"] == old["certificateId"]
    assert deps.rotation.requests[-1] == (serial, None)  # the shadow request is cleared
    assert post_hook(client, hook_event(serial)).json["allowProvisioning"] is False


def test_a_rotation_whose_new_certificate_never_arrives_keeps_the_old_one(
    client: Any, deps: Any, allow: Any, iot: Any
) -> None:
    serial, old = provisioned(client, allow, iot)
    lifecycle.request_rotation(deps, serial, actor="alice")
    assert post_hook(client, hook_event(serial)).json["allowProvisioning"] is True
    later = deps.clock() + timedelta(hours=1)
    deps.clock = lambda: later
    lifecycle.reconcile(deps)
    device = deps.store.device(serial)
    assert device["certificate_id"] == old["certificateId"]
    assert device["rotation"]["status"] == "failed" and not device.get("retiring")
    assert status(iot, old["certificateId"]) == "ACTIVE"


def test_rotation_of_a_decommissioned_device_conflicts(
    client: Any, deps: Any, allow: Any, iot: Any
) -> None:
    serial, _cert = provisioned(client, allow, iot)
    lifecycle.decommission(deps, serial, status="INACTIVE", actor="alice")
    with pytest.raises(Conflict):
        lifecycle.request_rotation(deps, serial, actor="alice")


def test_certificates_nearing_expiry(client: Any, deps: Any, allow: Any) -> None:
    soon, later = serials(2)
    allow(manifest([soon, later]))
    post_hook(client, hook_event(soon, pem=self_signed_pem(soon, days=10)))
    post_hook(client, hook_event(later, pem=self_signed_pem(later, days=400)))
    found = [d["_id"] for d in lifecycle.expiring(deps, 30, 100)]
    assert soon in found and later not in found
    assert later in [d["_id"] for d in lifecycle.expiring(deps, 500, 100)]


def test_a_thing_created_without_the_hook_is_registered_from_the_registry(
    deps: Any, allow: Any, iot: Any
) -> None:
    listed, unlisted = serials(2)
    allow(manifest([listed]))
    for thing in (listed, unlisted):
        cert = iot.create_keys_and_certificate(setAsActive=True)
        iot.create_thing(thingName=thing)
        iot.attach_thing_principal(thingName=thing, principal=cert["certificateArn"])
    payload = b'{"eventType": "THING_EVENT", "operation": "CREATED", "thingId": "t-1"}'

    assert handle_thing_event(deps, f"$aws/events/thing/{listed}/created", payload) is True
    assert handle_thing_event(deps, f"$aws/events/thing/{unlisted}/created", payload) is False
    assert handle_thing_event(deps, f"$aws/events/thing/{listed}/created", payload) is False

    device = deps.store.device(listed)
    assert device["status"] == "active" and device["registry"]["thing_id"] == "t-1"
    assert device["provisioning"]["reason"] == "registry_event"
    assert [e.subject for e in deps.events.events] == [listed]
    assert deps.store.device(unlisted) is None
    audit = deps.store.db["audit_log"].find_one({"action": "provisioning.unlisted_thing"})
    assert audit["target"] == unlisted
