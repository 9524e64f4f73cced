"""`msm-provisioner setup`: idempotent create-or-update of the AWS IoT side, against moto.

moto 5.x has no provisioning templates (DescribeProvisioningTemplate and
CreateProvisioningTemplate answer 500), so the template calls — and only those — go to a client
with botocore's Stubber; policies and the claim certificate are real calls to moto.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from msm_provisioner import setup as aws_setup
from provisioner_helpers import self_signed_pem
from support.services import ROOT, unique

pytestmark = pytest.mark.integration
ARN_PREFIX = "arn:aws:iot:us-east-1:123456789012"


@pytest.fixture
def config(tmp_path: Path) -> aws_setup.SetupConfig:
    claim = tmp_path / "claim.crt"
    claim.write_text(self_signed_pem("claim"))
    return aws_setup.SetupConfig(
        aws_dir=ROOT / "deploy/aws",
        template_name=unique("t"),
        hook_target="arn:aws:lambda:us-east-1:123456789012:function:msm-hook",
        role_arn="arn:aws:iam::123456789012:role/msm-iot-provisioning",
        claim_cert_file=claim,
        claim_out_dir=tmp_path / "out",
        local=False,
    )


@pytest.fixture
def stubbed() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client(
        "iot", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def described(config: aws_setup.SetupConfig, **changes: Any) -> dict[str, Any]:
    """DescribeProvisioningTemplate's answer for the template as setup creates it."""
    doc = config.document("provisioning-template.json")
    return {
        "templateArn": f"{ARN_PREFIX}:provisioningtemplate/{doc['templateName']}",
        "templateName": doc["templateName"],
        "description": doc["description"],
        "defaultVersionId": 1,
        "templateBody": json.dumps(doc["templateBody"]),
        "enabled": True,
        "provisioningRoleArn": doc["provisioningRoleArn"],
        "preProvisioningHook": doc["preProvisioningHook"],
        "type": "FLEET_PROVISIONING",
        **changes,
    }


def test_setup_creates_then_changes_nothing(config: Any, iot: Any, stubbed: Any) -> None:
    templates, stub = stubbed
    name = config.template_name
    doc = config.document("provisioning-template.json")
    stub.add_client_error(
        "describe_provisioning_template",
        "ResourceNotFoundException",
        expected_params={"templateName": name},
    )
    stub.add_response(
        "create_provisioning_template",
        {"templateName": name},
        expected_params={
            "templateName": name,
            "templateBody": json.dumps(doc["templateBody"]),
            "type": "FLEET_PROVISIONING",
            "description": doc["description"],
            "enabled": True,
            "provisioningRoleArn": config.role_arn,
            "preProvisioningHook": {
                "targetArn": config.hook_target,
                "payloadVersion": "2020-04-01",
            },
        },
    )
    setup = aws_setup.Setup(config, iot, templates)

    steps, lines = aws_setup.run(setup, dry_run=False)

    assert [(s.kind, s.action) for s in steps] == [
        ("device-policy", "create"),
        ("claim-policy", "create"),
        ("template", "create"),
        ("claim-certificate", "create"),
    ]
    device_policy = json.loads(iot.get_policy(policyName=f"{name}-device")["policyDocument"])
    assert device_policy == config.document("device-policy.json")
    pem = config.claim_cert_file.read_text()
    claim_id = next(c for c in aws_setup.certificate_id_candidates(pem) if _exists(iot, c))
    desc = iot.describe_certificate(certificateId=claim_id)["certificateDescription"]
    assert desc["status"] == "ACTIVE"
    attached = iot.list_attached_policies(target=desc["certificateArn"])["policies"]
    assert [p["policyName"] for p in attached] == [f"{name}-claim"]
    assert lines[0].startswith("create")

    stub.add_response(
        "describe_provisioning_template", described(config), expected_params={"templateName": name}
    )
    again, _ = aws_setup.run(setup, dry_run=False)
    assert {s.action for s in again} == {"unchanged"}


def test_setup_updates_what_drifted(config: Any, iot: Any, stubbed: Any) -> None:
    templates, stub = stubbed
    name = config.template_name
    iot.create_policy(
        policyName=f"{name}-device",
        policyDocument='{"Version": "2012-10-17", '
        '"Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": "*"}]}',
    )
    old_hook = {
        "targetArn": "arn:aws:lambda:us-east-1:123456789012:function:old",
        "payloadVersion": "2020-04-01",
    }
    stub.add_response(
        "describe_provisioning_template",
        described(config, preProvisioningHook=old_hook, templateBody="{}"),
    )
    stub.add_response(
        "list_provisioning_template_versions",
        {"versions": [{"versionId": 1, "isDefaultVersion": True}]},
        expected_params={"templateName": name},
    )
    stub.add_response(
        "create_provisioning_template_version",
        {"versionId": 2},
        expected_params={
            "templateName": name,
            "setAsDefault": True,
            "templateBody": json.dumps(
                config.document("provisioning-template.json")["templateBody"]
            ),
        },
    )
    stub.add_response(
        "update_provisioning_template",
        {},
        expected_params={
            "templateName": name,
            **{
                k: config.document("provisioning-template.json")[k]
                for k in ("description", "enabled", "provisioningRoleArn", "preProvisioningHook")
            },
        },
    )

    steps, _ = aws_setup.run(aws_setup.Setup(config, iot, templates), dry_run=False)

    by_kind = {s.kind: s for s in steps}
    assert by_kind["device-policy"].action == "update"
    assert by_kind["template"].changes == ("preProvisioningHook", "templateBody")
    current = json.loads(iot.get_policy(policyName=f"{name}-device")["policyDocument"])
    assert current == config.document("device-policy.json")


def test_dry_run_changes_nothing(config: Any, iot: Any, stubbed: Any) -> None:
    templates, stub = stubbed
    stub.add_client_error("describe_provisioning_template", "ResourceNotFoundException")
    steps, lines = aws_setup.run(aws_setup.Setup(config, iot, templates), dry_run=True)
    assert all(s.action == "create" for s in steps)
    assert all(line.startswith("would create") for line in lines)
    with pytest.raises(iot.exceptions.ResourceNotFoundException):
        iot.get_policy(policyName=f"{config.template_name}-device")


def test_locally_moto_lacks_templates_and_setup_says_so(config: Any, iot: Any) -> None:
    local = aws_setup.SetupConfig(**{**config.__dict__, "local": True})
    steps, _lines = aws_setup.run(aws_setup.Setup(local, iot), dry_run=True)
    template = next(s for s in steps if s.kind == "template")
    assert template.action == "skip" and "moto" in template.detail
    with pytest.raises(ClientError, match="500"):  # without the local flag it is an error
        aws_setup.Setup(config, iot).plan()


def _exists(iot: Any, cert_id: str) -> bool:
    try:
        iot.describe_certificate(certificateId=cert_id)
    except iot.exceptions.ResourceNotFoundException:
        return False
    return True


def test_in_aws_the_hook_must_be_a_lambda(config: Any, iot: Any) -> None:
    url_hook = aws_setup.SetupConfig(**{**config.__dict__, "hook_target": "http://x/hook"})
    with pytest.raises(ValueError, match="Lambda"):
        aws_setup.Setup(url_hook, iot).plan()
