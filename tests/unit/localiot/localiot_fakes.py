"""Small fakes of localiot's ports (registry, broker, hook, publisher) and an in-memory CA."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from msm_localiot.provisioning.ca import LocalCA
from msm_localiot.provisioning.hook import HookAnswer, HookError
from msm_localiot.provisioning.registry import RegisteredCertificate, RegisteredThing
from msm_localiot.provisioning.templates import ProvisioningPlan, ProvisioningTemplate
from support.certs import self_signed


def make_ca() -> tuple[LocalCA, x509.Certificate]:
    key, cert = self_signed("test CA", days=3650, not_before=dt.timedelta(days=1), ca=True)
    return LocalCA(cert, key), cert


@dataclass
class RecordingPublisher:
    sent: list[tuple[str, bytes]] = field(default_factory=list)

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        self.sent.append((topic, payload))

    def json_on(self, topic: str) -> list[Any]:
        return [json.loads(p) for t, p in self.sent if t == topic]


@dataclass
class FakeRegistry:
    """Certificates and things, as the AWS IoT registry keeps them."""

    certificates: dict[str, str] = field(default_factory=dict)  # id -> status
    things: dict[str, ProvisioningPlan] = field(default_factory=dict)
    attached: list[tuple[str, str]] = field(default_factory=list)  # (thing, certificate id)
    policies: list[tuple[str | None, str]] = field(default_factory=list)

    def register_certificate(self, certificate_pem: str) -> RegisteredCertificate:
        cert_id = f"cert{len(self.certificates) + 1:060d}"
        self.certificates[cert_id] = "PENDING_ACTIVATION"
        return RegisteredCertificate(cert_id, f"arn:aws:iot:us-east-1:123456789012:cert/{cert_id}")

    def provision(
        self, plan: ProvisioningPlan, certificate: RegisteredCertificate
    ) -> RegisteredThing:
        created = plan.thing_name not in self.things
        self.things[plan.thing_name] = plan
        self.certificates[certificate.certificate_id] = plan.certificate_status
        self.attached.append((plan.thing_name, certificate.certificate_id))
        self.policies.append((plan.policy_name, certificate.certificate_id))
        return RegisteredThing(
            thing_name=plan.thing_name,
            thing_arn=f"arn:aws:iot:us-east-1:123456789012:thing/{plan.thing_name}",
            thing_id="thing-id-1",
            created=created,
            attributes=plan.attributes,
            thing_type=plan.thing_type,
        )

    def certificate_statuses(self) -> dict[str, str]:
        return dict(self.certificates)


@dataclass
class FakeBroker:
    granted: dict[str, tuple[str, str]] = field(default_factory=dict)  # cert id -> (user, thing)
    revoked: list[str] = field(default_factory=list)

    def grant(self, certificate_id: str, username: str, thing_name: str) -> None:
        self.granted[certificate_id] = (username, thing_name)

    def revoke(self, certificate_id: str, certificate_pem: str) -> None:
        self.granted.pop(certificate_id, None)
        self.revoked.append(certificate_id)


@dataclass
class FakeHook:
    answer: HookAnswer | None = field(default_factory=lambda: HookAnswer(True))
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def __call__(self, url: str, event: dict[str, Any]) -> HookAnswer:
        self.calls.append((url, event))
        if self.answer is None:
            raise HookError("hook unreachable")
        return self.answer


@dataclass
class StaticTemplates:
    templates: dict[str, ProvisioningTemplate] = field(default_factory=dict)

    def find(self, name: str) -> ProvisioningTemplate | None:
        return self.templates.get(name)


METER_BODY: dict[str, Any] = {
    "Parameters": {
        "SerialNumber": {"Type": "String"},
        "FirmwareVersion": {"Type": "String", "Default": "unknown"},
    },
    "Resources": {
        "thing": {
            "Type": "AWS::IoT::Thing",
            "Properties": {
                "ThingName": {"Ref": "SerialNumber"},
                "AttributePayload": {"firmware_version": {"Ref": "FirmwareVersion"}},
            },
        },
        "certificate": {
            "Type": "AWS::IoT::Certificate",
            "Properties": {
                "CertificateId": {"Ref": "AWS::IoT::Certificate::Id"},
                "Status": "Active",
            },
        },
        "policy": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyName": "msm-meter-device"}},
    },
    "DeviceConfiguration": {"telemetry_topic": {"Fn::Sub": "msm/${SerialNumber}/telemetry"}},
}
