"""POST /hook against the real database: decisions, what they store, what they publish."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from msm_provisioner.domain.hook_auth import sign
from provisioner_helpers import (
    CLAIM_ID,
    HOOK_SECRET,
    cert_id,
    hook_event,
    manifest,
    post_hook,
    serials,
)

pytestmark = pytest.mark.integration


def test_an_allowlisted_serial_is_allowed_and_registered(
    client: Any, deps: Any, allow: Any
) -> None:
    (serial,) = serials(1)
    allow(manifest([serial]))
    entry = deps.store.allowlist_entry(serial)
    event = hook_event(serial, FirmwareVersion="2.3.1")

    resp = post_hook(client, event)

    assert resp.status_code == 200
    assert resp.json == {
        "allowProvisioning": True,
        "parameterOverrides": {"DeviceImei": entry.imei, "DeviceLabels": "fleet=it"},
    }
    device = deps.store.db["devices"].find_one({"_id": serial})
    assert device["serial"] == serial and device["device_imei"] == entry.imei
    assert device["certificate_id"] == event["certificateId"]
    assert device["status"] == "active" and device["provisioned_at"] is not None
    assert device["certificate_expires_at"] is not None
    assert device["claim_certificate_id"] == CLAIM_ID and device["labels"] == {"fleet": "it"}
    assert deps.store.allowlist_entry(serial).status == "provisioned"
    (published,) = deps.events.events
    assert published.routing_key == f"device.provisioned.{serial}"
    assert published.data["certificate_id"] == event["certificateId"]
    attempt = deps.store.db["provisioning_attempts"].find_one({"serial": serial})
    assert (attempt["outcome"], attempt["reason"]) == ("allowed", "allowed")
    audit = deps.store.db["audit_log"].find_one({"action": "provisioning.hook", "target": serial})
    assert audit["result"] == "ok" and audit["actor"] == f"claim:{CLAIM_ID}"


def test_a_serial_not_on_the_allowlist_is_refused(client: Any, deps: Any) -> None:
    (serial,) = serials(1)
    resp = post_hook(client, hook_event(serial))
    assert resp.status_code == 200 and resp.json == {"allowProvisioning": False}
    assert deps.store.db["devices"].find_one({"_id": serial}) is None
    attempt = deps.store.db["provisioning_attempts"].find_one({"serial": serial})
    assert (attempt["outcome"], attempt["reason"]) == ("denied", "not_listed")
    audit = deps.store.db["audit_log"].find_one({"target": serial})
    assert audit["result"] == "denied" and audit["details"]["reason"] == "not_listed"
    assert deps.events.events == []


def test_a_provisioned_serial_is_refused_unless_policy_resets(
    make_app: Any, allow: Any, client: Any, deps: Any
) -> None:
    (serial,) = serials(1)
    allow(manifest([serial]))
    first = hook_event(serial)
    assert post_hook(client, first).json["allowProvisioning"] is True
    assert post_hook(client, hook_event(serial)).json == {"allowProvisioning": False}
    # The same certificate asking again (AWS retries a hook) is still allowed, not re-registered.
    assert post_hook(client, first).json["allowProvisioning"] is True
    assert len(deps.events.events) == 1

    reset = make_app({"provisioner_reprovision_policy": "reset"}).test_client()
    second = hook_event(serial)
    assert post_hook(reset, second).json["allowProvisioning"] is True
    device = deps.store.db["devices"].find_one({"_id": serial})
    assert device["certificate_id"] == second["certificateId"]
    assert [r["certificate_id"] for r in device["retiring"]] == [first["certificateId"]]
    reasons = [a["reason"] for a in deps.store.attempts({"serial": serial}, 10)]
    assert reasons == ["reprovisioned", "repeated", "already_provisioned", "allowed"]


def test_quota_per_claim_certificate(make_app: Any, allow: Any) -> None:
    client = make_app({"provisioner_claim_quota": 2}).test_client()
    names = serials(3)
    allow(manifest(names))
    claim = cert_id()
    answers = [post_hook(client, hook_event(s, claim=claim)).json for s in names]
    assert [a["allowProvisioning"] for a in answers] == [True, True, False]
    # Another claim certificate has its own quota.
    assert post_hook(client, hook_event(names[2], claim=cert_id())).json["allowProvisioning"]


def test_rate_per_claim_certificate(make_app: Any, deps: Any) -> None:
    client = make_app({"provisioner_claim_rate": 3}).test_client()
    claim = cert_id()
    answers = [post_hook(client, hook_event(s, claim=claim)).json for s in serials(5)]
    assert all(a == {"allowProvisioning": False} for a in answers)
    reasons = [a["reason"] for a in deps.store.attempts({"claim_certificate_id": claim}, 10)]
    assert sorted(reasons) == ["not_listed"] * 3 + ["rate_limited"] * 2


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b"null",
        json.dumps({"parameters": {"SerialNumber": "S-1"}}).encode(),
        json.dumps(hook_event("bad/serial")).encode(),
        b"{" * 70_000,
    ],
    ids=["not json", "array", "null", "no certificate ids", "bad serial", "huge"],
)
def test_malformed_events_are_denied_never_an_error(client: Any, deps: Any, body: bytes) -> None:
    resp = post_hook(client, body)
    assert resp.status_code == 200 and resp.json == {"allowProvisioning": False}
    (attempt,) = deps.store.attempts({}, 5)
    assert attempt["reason"] == "malformed"


def test_the_hook_needs_credentials(client: Any, deps: Any) -> None:
    event = json.dumps(hook_event(serials(1)[0])).encode()
    assert client.post("/hook", data=event).status_code == 401
    wrong = client.post("/hook", data=event, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    stamp = int(time.time())
    signed = client.post(
        "/hook",
        data=event,
        headers={"X-MSM-Timestamp": str(stamp), "X-MSM-Signature": sign(HOOK_SECRET, stamp, event)},
    )
    assert signed.status_code == 200
    stale = client.post(
        "/hook",
        data=event,
        headers={
            "X-MSM-Timestamp": str(stamp - 900),
            "X-MSM-Signature": sign(HOOK_SECRET, stamp - 900, event),
        },
    )
    assert stale.status_code == 401
    assert len(deps.store.attempts({}, 10)) == 1  # only the authenticated call was decided


def test_probes_and_metrics(client: Any, deps: Any) -> None:
    assert client.get("/healthz").json == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json["checks"] == {"mongo": True}
    post_hook(client, b"nope")
    assert client.get("/metrics").status_code == 404  # only on the ops port
    metrics = deps.metrics.exposition()[0].decode()
    assert (
        'msm_provisioner_hook_decisions_total{outcome="denied",reason="malformed"} 1.0' in metrics
    )


def test_a_replayed_signature_is_refused(client: Any, deps: Any, allow: Any) -> None:
    (serial,) = serials(1)
    allow(manifest([serial]))
    event = json.dumps(hook_event(serial)).encode()
    stamp = int(time.time())
    headers = {"X-MSM-Timestamp": str(stamp), "X-MSM-Signature": sign(HOOK_SECRET, stamp, event)}
    first = client.post("/hook", data=event, headers=headers)
    assert first.status_code == 200 and first.json["allowProvisioning"] is True
    # The same signed request again, well within the timestamp's skew: refused, not decided.
    replay = client.post("/hook", data=event, headers=headers)
    assert replay.status_code == 401 and "already used" in replay.json["detail"]
    assert len(deps.store.attempts({}, 10)) == 1
    # The nonce is remembered in MongoDB (every replica sees it) and forgotten by a TTL index.
    (nonce,) = deps.store.db["hook_nonces"].find({})
    assert nonce["expires_at"].timestamp() == pytest.approx(stamp + 300, abs=1)
    ttl = deps.store.db["hook_nonces"].index_information()["expiry"]
    assert ttl["expireAfterSeconds"] == 0


def test_without_credentials_the_hook_is_open_only_on_the_local_stack(make_app: Any) -> None:
    event = json.dumps(hook_event(serials(1)[0])).encode()
    bare = {"hook_token": "", "hook_secret": ""}
    refused = make_app({**bare, "env": "test"}).test_client().post("/hook", data=event)
    assert refused.status_code == 401
    local = make_app({**bare, "env": "local"}).test_client().post("/hook", data=event)
    assert local.status_code == 200
