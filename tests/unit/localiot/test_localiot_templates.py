"""Provisioning templates in AWS's format: the local msm-meter file and the functions it may use."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from msm_localiot.provisioning.templates import (
    ProvisioningTemplate,
    TemplateError,
    plan,
)

ROOT = Path(__file__).resolve().parents[3]
CERT = {"Id": "c" * 64, "CommonName": "n" * 64}


def thing_template(thing_name: Any, **extra: Any) -> ProvisioningTemplate:
    body = {
        "Parameters": {
            "SerialNumber": {"Type": "String"},
            "Site": {"Type": "String", "Default": "lab"},
        },
        "Resources": {
            "thing": {"Type": "AWS::IoT::Thing", "Properties": {"ThingName": thing_name}},
        },
        **extra,
    }
    return ProvisioningTemplate("t", body)


def test_the_local_msm_meter_template_makes_the_serial_number_the_thing_name() -> None:
    document = json.loads((ROOT / "deploy/local/provisioning/msm-meter.json").read_text())
    template = ProvisioningTemplate.from_document(document, "msm-meter")
    assert template.name == "msm-meter"
    assert template.hook_target is not None
    steps = plan(template, {"SerialNumber": "3f2a-uuid"}, CERT)
    assert steps.thing_name == "3f2a-uuid"
    assert steps.certificate_status == "ACTIVE"
    assert steps.attributes == {"serial_number": "3f2a-uuid", "firmware_version": "unknown"}
    assert steps.policy_name == "msm-meter-device"
    assert "iot:Connection.Thing.ThingName" in (steps.policy_document or "")


FUNCTIONS = [
    pytest.param({"Ref": "SerialNumber"}, "S1", id="Ref"),
    pytest.param({"Ref": "Site"}, "lab", id="Ref to a default"),
    pytest.param(
        {"Fn::Join": ["-", [{"Ref": "Site"}, {"Ref": "SerialNumber"}]]}, "lab-S1", id="Join"
    ),
    pytest.param({"Fn::Sub": "${Site}_${SerialNumber}"}, "lab_S1", id="Sub"),
    pytest.param(
        {"Fn::Sub": ["${X}-${SerialNumber}", {"X": "m"}]}, "m-S1", id="Sub with variables"
    ),
    pytest.param({"Fn::Select": [1, {"Fn::Split": [":", "a:b:c"]}]}, "b", id="Select and Split"),
    pytest.param({"Fn::FindInMap": ["Sites", {"Ref": "Site"}, "prefix"]}, "L", id="FindInMap"),
    pytest.param({"Ref": "AWS::IoT::Certificate::Id"}, "c" * 64, id="certificate pseudo parameter"),
]


@pytest.mark.parametrize(("expression", "expected"), FUNCTIONS)
def test_intrinsic_functions(expression: Any, expected: str) -> None:
    template = thing_template(expression, Mappings={"Sites": {"lab": {"prefix": "L"}}})
    assert plan(template, {"SerialNumber": "S1"}, CERT).thing_name == expected


@pytest.mark.parametrize(
    ("expression", "parameters"),
    [
        pytest.param({"Ref": "SerialNumber"}, {}, id="missing parameter"),
        pytest.param({"Ref": "Nope"}, {"SerialNumber": "x"}, id="unknown reference"),
        pytest.param({"Fn::Select": [5, ["a"]]}, {"SerialNumber": "x"}, id="index out of range"),
        pytest.param({"Fn::If": ["c", "a", "b"]}, {"SerialNumber": "x"}, id="unsupported function"),
        pytest.param(7, {"SerialNumber": "x"}, id="thing name not a string"),
    ],
)
def test_templates_that_cannot_be_applied(expression: Any, parameters: dict[str, str]) -> None:
    with pytest.raises(TemplateError):
        plan(thing_template(expression), parameters, CERT)


def test_a_bare_template_body_and_an_inactive_certificate() -> None:
    body = json.loads(json.dumps(thing_template({"Ref": "SerialNumber"}).body))
    body["Resources"]["cert"] = {
        "Type": "AWS::IoT::Certificate",
        "Properties": {"Status": "Inactive"},
    }
    template = ProvisioningTemplate.from_document(body, "bare")
    assert template.name == "bare"
    assert plan(template, {"SerialNumber": "x"}, CERT).certificate_status == "INACTIVE"


def test_a_template_body_given_as_a_json_string() -> None:
    body = thing_template({"Ref": "SerialNumber"}).body
    document = {"templateName": "s", "enabled": False, "templateBody": json.dumps(body)}
    template = ProvisioningTemplate.from_document(document, "s")
    assert template.enabled is False
    assert plan(template, {"SerialNumber": "x"}, CERT).thing_name == "x"
