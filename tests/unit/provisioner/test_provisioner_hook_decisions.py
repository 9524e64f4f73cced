"""The pre-provisioning hook's decision table: `read_event` + `decide`, no I/O."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from msm_provisioner.domain import hook
from msm_provisioner.domain.hook import (
    AllowlistEntry,
    ClaimUsage,
    ExistingDevice,
    HookPolicy,
    decide,
    read_event,
)

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
CLAIM = "c1a1" * 16
NEW_CERT = "ab12" * 16
OLD_CERT = "0ld0" * 16
SERIAL = "SIM-000042"
ENTRY = AllowlistEntry(SERIAL, "356990000000424", {"fleet": "sim", "site": "north"})
FREE = ClaimUsage(provisioned=0, recent_attempts=0)
NEVER = HookPolicy(reprovision="never", quota=100, rate_per_minute=60)
RESET = replace(NEVER, reprovision="reset")
ACTIVE = ExistingDevice(SERIAL, "active", certificate_id=OLD_CERT)


def event(**overrides: Any) -> dict[str, Any]:
    """An event as AWS IoT sends it (payloadVersion 2020-04-01)."""
    base: dict[str, Any] = {
        "claimCertificateId": CLAIM,
        "certificateId": NEW_CERT,
        "certificatePem": "-----BEGIN CERTIFICATE-----\n...",
        "templateArn": "arn:aws:iot:us-east-1:123456789012:provisioningtemplate/msm-meter",
        "clientId": "claim-7f3a",
        "parameters": {"SerialNumber": SERIAL, "FirmwareVersion": "2.3.1"},
    }
    return {**base, **overrides}


def malformed(name: str, raw: Any) -> tuple[Any, ...]:
    """A row whose event is refused as malformed, whatever the allowlist and the policy say."""
    return (name, raw, ENTRY, None, FREE, NEVER, False, hook.MALFORMED)


ROWS = [
    # id, raw event, allowlist entry, existing device, claim usage, policy, allow, reason
    ("allowed", event(), ENTRY, None, FREE, NEVER, True, hook.ALLOWED),
    ("not listed", event(), None, None, FREE, NEVER, False, hook.NOT_LISTED),
    (
        "blocked entry",
        event(),
        replace(ENTRY, status="blocked"),
        None,
        FREE,
        NEVER,
        False,
        hook.BLOCKED,
    ),
    ("already provisioned", event(), ENTRY, ACTIVE, FREE, NEVER, False, hook.ALREADY_PROVISIONED),
    (
        "already provisioned, reset policy",
        event(),
        ENTRY,
        ACTIVE,
        FREE,
        RESET,
        True,
        hook.REPROVISIONED,
    ),
    (
        "same certificate asks again",
        event(),
        ENTRY,
        replace(ACTIVE, certificate_id=NEW_CERT),
        FREE,
        NEVER,
        True,
        hook.REPEATED,
    ),
    (
        "rotation requested",
        event(),
        ENTRY,
        replace(ACTIVE, rotation_requested_at=NOW - timedelta(minutes=5)),
        FREE,
        NEVER,
        True,
        hook.ROTATION,
    ),
    (
        "rotation request expired",
        event(),
        ENTRY,
        replace(ACTIVE, rotation_requested_at=NOW - timedelta(hours=2)),
        FREE,
        NEVER,
        False,
        hook.ALREADY_PROVISIONED,
    ),
    (
        "decommissioned, even with reset",
        event(),
        ENTRY,
        replace(ACTIVE, status="decommissioned"),
        FREE,
        RESET,
        False,
        hook.DECOMMISSIONED,
    ),
    ("quota exceeded", event(), ENTRY, None, ClaimUsage(100, 0), NEVER, False, hook.QUOTA_EXCEEDED),
    (
        "quota does not stop a reprovision",
        event(),
        ENTRY,
        ACTIVE,
        ClaimUsage(100, 0),
        RESET,
        True,
        hook.REPROVISIONED,
    ),
    ("rate exceeded", event(), ENTRY, None, ClaimUsage(0, 60), NEVER, False, hook.RATE_LIMITED),
    (
        "rate applies to unlisted serials too",
        event(),
        None,
        None,
        ClaimUsage(0, 60),
        NEVER,
        False,
        hook.RATE_LIMITED,
    ),
    malformed("malformed: not an object", ["x"]),
    malformed("malformed: no serial", event(parameters={})),
    malformed("malformed: serial not a thing name", event(parameters={"SerialNumber": "a/b#"})),
    malformed("malformed: serial not a string", event(parameters={"SerialNumber": 42})),
    malformed("malformed: no claim certificate", event(claimCertificateId=None)),
    malformed("malformed: bad certificate id", event(certificateId="../etc")),
    malformed("malformed: parameters not an object", event(parameters="SIM-1")),
    malformed("malformed: pem not a string", event(certificatePem=7)),
    malformed("malformed: null event", None),
]


@pytest.mark.parametrize(
    ("raw", "entry", "device", "usage", "policy", "allow", "reason"),
    [row[1:] for row in ROWS],
    ids=[row[0] for row in ROWS],
)
def test_hook_decision_table(
    raw: Any,
    entry: AllowlistEntry | None,
    device: ExistingDevice | None,
    usage: ClaimUsage,
    policy: HookPolicy,
    allow: bool,
    reason: str,
) -> None:
    decision = decide(read_event(raw), entry, device, usage, policy=policy, now=NOW)
    assert (decision.allow, decision.reason) == (allow, reason)
    answer = decision.answer()
    assert answer["allowProvisioning"] is allow
    if allow:
        assert answer["parameterOverrides"] == {
            "DeviceImei": "356990000000424",
            "DeviceLabels": "fleet=sim,site=north",
        }
    else:
        assert "parameterOverrides" not in answer


def test_an_entry_without_labels_overrides_only_the_imei() -> None:
    entry = AllowlistEntry(SERIAL, "356990000000424")
    decision = decide(read_event(event()), entry, None, FREE, policy=NEVER, now=NOW)
    assert decision.overrides == {"DeviceImei": "356990000000424"}


def test_only_a_new_certificate_is_registered() -> None:
    new = decide(read_event(event()), ENTRY, None, FREE, policy=NEVER, now=NOW)
    again = decide(
        read_event(event()),
        ENTRY,
        replace(ACTIVE, certificate_id=NEW_CERT),
        FREE,
        policy=NEVER,
        now=NOW,
    )
    assert new.registers and not again.registers


def test_read_event_keeps_what_registration_needs() -> None:
    parsed = read_event(event(clientId=""))
    assert isinstance(parsed, hook.HookEvent)
    assert (parsed.serial, parsed.certificate_id, parsed.claim_certificate_id) == (
        SERIAL,
        NEW_CERT,
        CLAIM,
    )
    assert parsed.parameters["FirmwareVersion"] == "2.3.1"


@pytest.mark.parametrize(
    "bad",
    [
        {"parameters": {"SerialNumber": "x" * 129}},
        {"templateArn": 5},
        {"clientId": ["a"]},
        {"parameters": {"SerialNumber": SERIAL, "Extra": {"a": 1}}},
    ],
)
def test_read_event_refuses_odd_fields(bad: dict[str, Any]) -> None:
    assert isinstance(read_event(event(**bad)), hook.Malformed)
