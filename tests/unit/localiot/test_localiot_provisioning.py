"""Fleet provisioning by claim: AWS's request/response shapes, ownership tokens, the hook."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from localiot_fakes import (
    METER_BODY,
    FakeBroker,
    FakeHook,
    FakeRegistry,
    RecordingPublisher,
    StaticTemplates,
    make_ca,
)
from msm_localiot.provisioning.certificates import InMemoryCertificateStore
from msm_localiot.provisioning.hook import HookAnswer
from msm_localiot.provisioning.revocation import sync_certificate_status
from msm_localiot.provisioning.service import (
    ProvisioningConfig,
    ProvisioningService,
    Reply,
)
from msm_localiot.provisioning.templates import ProvisioningTemplate

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> dt.datetime:
        return self.now


class World:
    """A ProvisioningService wired to fakes, with helpers for the two-step flow."""

    def __init__(self, *, hook_url: str = "", templates: dict[str, Any] | None = None) -> None:
        self.ca, self.ca_cert = make_ca()
        self.registry = FakeRegistry()
        self.broker = FakeBroker()
        self.hook = FakeHook()
        self.publisher = RecordingPublisher()
        self.certificates = InMemoryCertificateStore()
        self.clock = Clock()
        found = templates or {"msm-meter": ProvisioningTemplate("msm-meter", METER_BODY)}
        self.service = ProvisioningService(
            ProvisioningConfig("msm-meter", default_hook_url=hook_url, claim_certificate_id="c1"),
            ca=self.ca,
            certificates=self.certificates,
            registry=self.registry,
            broker=self.broker,
            templates=StaticTemplates(found),
            hook=self.hook,
            publisher=self.publisher,
            clock=self.clock,
        )

    def create(self) -> dict[str, Any]:
        reply = self.service.create_keys_and_certificate(b"{}")
        assert reply.accepted, reply.body
        return reply.body

    def register(self, token: str, template: str = "msm-meter", **parameters: str) -> Reply:
        payload = {"certificateOwnershipToken": token, "parameters": parameters}
        return self.service.register_thing(template, json.dumps(payload).encode())


def rejected(reply: Reply, status: int, code: str) -> None:
    assert not reply.accepted
    assert set(reply.body) == {"statusCode", "errorCode", "errorMessage"}
    assert (reply.body["statusCode"], reply.body["errorCode"]) == (status, code)


def test_create_keys_and_certificate_returns_a_certificate_signed_by_the_local_ca() -> None:
    world = World()
    body = world.create()
    assert set(body) == {
        "certificateId",
        "certificatePem",
        "privateKey",
        "certificateOwnershipToken",
    }
    cert = x509.load_pem_x509_certificate(body["certificatePem"].encode())
    key = serialization.load_pem_private_key(body["privateKey"].encode(), password=None)
    assert cert.issuer == world.ca_cert.subject
    world.ca_cert.public_key().verify(  # type: ignore[call-arg]
        cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm)
    )
    assert cert.public_key() == key.public_key()
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    common_name = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert common_name == hashlib.sha256(spki).hexdigest()
    assert world.registry.certificates[body["certificateId"]] == "PENDING_ACTIVATION"
    assert world.broker.granted == {}  # no rights before RegisterThing


def test_create_from_csr_keeps_the_devices_own_key() -> None:
    world = World()
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "whatever")]))
        .sign(key, hashes.SHA256())
    )
    pem = csr.public_bytes(serialization.Encoding.PEM).decode()
    reply = world.service.create_certificate_from_csr(
        json.dumps({"certificateSigningRequest": pem}).encode()
    )
    assert reply.accepted
    assert set(reply.body) == {"certificateId", "certificatePem", "certificateOwnershipToken"}
    cert = x509.load_pem_x509_certificate(reply.body["certificatePem"].encode())
    assert cert.public_key() == key.public_key()


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        pytest.param(b"{}", 400, "InvalidPayload", id="no CSR"),
        pytest.param(b'{"certificateSigningRequest": "junk"}', 400, "InvalidCsr", id="not a CSR"),
        pytest.param(b"{not json", 400, "InvalidPayload", id="not JSON"),
    ],
)
def test_bad_csr_requests_are_rejected(payload: bytes, status: int, code: str) -> None:
    rejected(World().service.create_certificate_from_csr(payload), status, code)


def test_register_thing_provisions_the_serial_number_as_the_thing() -> None:
    world = World()
    created = world.create()
    reply = world.register(created["certificateOwnershipToken"], SerialNumber="meter-0001")
    assert reply == Reply(
        True,
        {
            "deviceConfiguration": {"telemetry_topic": "msm/meter-0001/telemetry"},
            "thingName": "meter-0001",
        },
    )
    cert_id = created["certificateId"]
    assert world.registry.certificates[cert_id] == "ACTIVE"
    assert world.registry.attached == [("meter-0001", cert_id)]
    assert world.registry.policies == [("msm-meter-device", cert_id)]
    assert world.registry.things["meter-0001"].attributes == {"firmware_version": "unknown"}
    username, thing = world.broker.granted[cert_id]
    assert thing == "meter-0001"
    assert len(username) == 64
    [event] = world.publisher.json_on("$aws/events/thing/meter-0001/created")
    assert event["eventType"] == "THING_EVENT"
    assert event["operation"] == "CREATED"
    assert event["thingName"] == "meter-0001"
    assert event["accountId"] == "123456789012"
    assert event["timestamp"] == int(NOW.timestamp() * 1000)


def test_registering_an_existing_thing_again_publishes_no_created_event() -> None:
    world = World()
    for _ in range(2):
        token = world.create()["certificateOwnershipToken"]
        assert world.register(token, SerialNumber="meter-7").accepted
    assert len(world.publisher.json_on("$aws/events/thing/meter-7/created")) == 1


@pytest.mark.parametrize(
    ("token", "message"),
    [
        pytest.param("", "Certificate ownership token cannot be empty.", id="empty"),
        pytest.param("bogus-token", "Certificate ownership token is invalid.", id="bogus"),
    ],
)
def test_register_thing_needs_a_token_from_create(token: str, message: str) -> None:
    world = World()
    world.create()
    reply = world.register(token, SerialNumber="meter-1")
    rejected(reply, 400, "InvalidCertificateOwnershipToken")
    assert reply.body["errorMessage"] == message
    assert world.registry.things == {}
    assert world.broker.granted == {}


def test_an_ownership_token_expires_after_an_hour() -> None:
    world = World()
    token = world.create()["certificateOwnershipToken"]
    world.clock.now = NOW + dt.timedelta(hours=1, seconds=1)
    rejected(world.register(token, SerialNumber="meter-1"), 400, "InvalidCertificateOwnershipToken")


def test_one_certificate_cannot_become_two_things() -> None:
    world = World()
    token = world.create()["certificateOwnershipToken"]
    assert world.register(token, SerialNumber="meter-1").accepted
    assert world.register(token, SerialNumber="meter-1").accepted  # a retry is fine
    rejected(world.register(token, SerialNumber="meter-2"), 400, "InvalidRequest")


@pytest.mark.parametrize(
    ("template", "parameters", "status", "code"),
    [
        pytest.param("nope", {"SerialNumber": "m-1"}, 404, "ResourceNotFound", id="no template"),
        pytest.param("msm-meter", {}, 400, "InvalidParameters", id="missing SerialNumber"),
        pytest.param(
            "msm-meter", {"SerialNumber": "a/b"}, 400, "InvalidParameters", id="bad thing name"
        ),
    ],
)
def test_register_thing_rejections(
    template: str, parameters: dict[str, str], status: int, code: str
) -> None:
    world = World()
    token = world.create()["certificateOwnershipToken"]
    rejected(world.register(token, template, **parameters), status, code)
    assert world.broker.granted == {}


def test_the_hook_receives_aws_event_and_can_deny() -> None:
    world = World(hook_url="http://127.0.0.1:9/hook")
    world.hook.answer = HookAnswer(False)
    created = world.create()
    reply = world.register(created["certificateOwnershipToken"], SerialNumber="meter-9")
    rejected(reply, 403, "AccessDenied")
    [(url, event)] = world.hook.calls
    assert url == "http://127.0.0.1:9/hook"
    assert event == {
        "claimCertificateId": "c1",
        "certificateId": created["certificateId"],
        "certificatePem": created["certificatePem"],
        "templateArn": "arn:aws:iot:us-east-1:123456789012:provisioningtemplate/msm-meter",
        "clientId": "",
        "parameters": {"SerialNumber": "meter-9"},
    }
    assert world.registry.things == {}
    assert world.broker.granted == {}


def test_hook_parameter_overrides_are_honoured() -> None:
    world = World(hook_url="http://127.0.0.1:9/hook")
    world.hook.answer = HookAnswer(True, {"SerialNumber": "meter-canonical"})
    token = world.create()["certificateOwnershipToken"]
    reply = world.register(token, SerialNumber="MeTeR-raw")
    assert reply.body["thingName"] == "meter-canonical"


def test_a_failing_hook_fails_the_provisioning() -> None:
    world = World(hook_url="http://127.0.0.1:9/hook")
    world.hook.answer = None
    token = world.create()["certificateOwnershipToken"]
    rejected(world.register(token, SerialNumber="meter-1"), 500, "InternalFailure")


def test_a_templates_own_http_hook_target_is_called() -> None:
    template = ProvisioningTemplate("t-1", METER_BODY, hook_target="http://127.0.0.1:9/t1")
    world = World(templates={"t-1": template})
    token = world.create()["certificateOwnershipToken"]
    assert world.register(token, "t-1", SerialNumber="m-1").accepted
    assert [url for url, _ in world.hook.calls] == ["http://127.0.0.1:9/t1"]


def test_a_lambda_hook_target_is_not_called_locally() -> None:
    lambda_arn = "arn:aws:lambda:us-east-1:123456789012:function:hook"
    template = ProvisioningTemplate("msm-meter", METER_BODY, hook_target=lambda_arn)
    world = World(templates={"msm-meter": template})
    token = world.create()["certificateOwnershipToken"]
    assert world.register(token, SerialNumber="m-1").accepted
    assert world.hook.calls == []


# --- revocation --------------------------------------------------------------------------------


def test_a_certificate_no_longer_active_is_locked_out_and_its_clients_dropped() -> None:
    world = World()
    ids = []
    for serial in ("m-1", "m-2", "m-3"):
        created = world.create()
        assert world.register(created["certificateOwnershipToken"], SerialNumber=serial).accepted
        ids.append(created["certificateId"])
    world.registry.certificates[ids[0]] = "INACTIVE"
    world.registry.certificates[ids[1]] = "REVOKED"
    world.registry.certificates["unrelated"] = "INACTIVE"  # not one of ours
    kicked: list[str] = []
    user_of = {ids[0]: world.broker.granted[ids[0]][0]}

    def clients(username: str) -> list[str]:
        return ["m-1"] if username == user_of[ids[0]] else []

    def sync() -> list[str]:
        return sync_certificate_status(
            world.certificates,
            world.registry,
            world.broker,
            connected_clients=clients,
            kick=kicked.append,
            now=NOW,
        )

    assert sorted(sync()) == sorted(ids[:2])
    assert sorted(world.broker.revoked) == sorted(ids[:2])
    assert list(world.broker.granted) == [ids[2]]
    assert kicked == ["m-1"]
    assert sync() == []  # done once
    del world.registry.certificates[ids[2]]  # gone from the registry (moto restarted)
    assert sync() == []
