"""The AWS setup plan: deploy/aws documents rendered, compared with what exists."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from msm_provisioner.domain import setup_plan as sp

ROOT = Path(__file__).resolve().parents[3]
VARS = {
    "template_name": "msm-meter",
    "hook_target": "arn:aws:lambda:eu-west-1:1:function:h",
    "role_arn": "arn:aws:iam::1:role/prov",
    "device_policy": "msm-meter-device",
}


def doc(name: str) -> dict:
    return sp.render((ROOT / "deploy/aws" / name).read_text(), VARS)


def test_device_policy_limits_a_device_to_its_own_topics() -> None:
    resources = [
        r
        for s in doc("device-policy.json")["Statement"]
        for r in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])
    ]
    assert all("${iot:Connection.Thing.ThingName}" in r for r in resources)
    assert not any(r.endswith(("topic/*", "topicfilter/*", "topic/#")) for r in resources)


def test_claim_policy_allows_provisioning_topics_only() -> None:
    statements = doc("claim-policy.json")["Statement"]
    topics = [r for s in statements if s["Action"] != "iot:Connect" for r in s["Resource"]]
    assert all(
        "$aws/certificates/create" in r or "$aws/provisioning-templates/msm-meter/" in r
        for r in topics
    )


def test_template_has_the_hook_and_the_device_policy() -> None:
    template = doc("provisioning-template.json")
    assert template["preProvisioningHook"]["targetArn"] == VARS["hook_target"]
    body = template["templateBody"]
    assert body["Resources"]["policy"]["Properties"]["PolicyName"] == "msm-meter-device"
    assert {"SerialNumber", "DeviceImei", "DeviceLabels"} <= set(body["Parameters"])


def test_render_refuses_unfilled_placeholders() -> None:
    with pytest.raises(ValueError, match="hook_target"):
        sp.render('{"a": "{{hook_target}}"}', {})


def test_policy_steps() -> None:
    desired = {"Version": "2012-10-17", "Statement": []}
    assert sp.policy_step("device-policy", "p", desired, None).action == "create"
    assert sp.policy_step("device-policy", "p", desired, json.dumps(desired)).action == "unchanged"
    changed = sp.policy_step("device-policy", "p", desired, '{"Version": "2008-10-17"}')
    assert (changed.action, changed.changes) == ("update", ("document",))


def test_template_steps_compare_settings_and_body() -> None:
    desired = doc("provisioning-template.json")
    current = {**desired, "templateBody": json.dumps(desired["templateBody"])}
    assert sp.template_step("msm-meter", desired, None).action == "create"
    assert sp.template_step("msm-meter", desired, current).action == "unchanged"
    moved = {**current, "preProvisioningHook": {"targetArn": "old", "payloadVersion": "x"}}
    step = sp.template_step("msm-meter", desired, moved)
    assert (step.action, step.changes) == ("update", ("preProvisioningHook",))
    other_body = {**current, "templateBody": "{}"}
    assert sp.template_step("msm-meter", desired, other_body).changes == ("templateBody",)


def test_claim_steps_and_lines() -> None:
    assert sp.claim_step("claim", None, False, "register x").action == "create"
    assert sp.claim_step("id", "ACTIVE", True, "").action == "unchanged"
    step = sp.claim_step("id", "INACTIVE", False, "")
    assert step.changes == ("status INACTIVE -> ACTIVE", "attach claim policy")
    assert step.line(dry_run=True).startswith("would update")
    assert step.line(dry_run=False).startswith("update")
