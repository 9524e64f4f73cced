"""Fleet provisioning by claim against localiot, driven by AWS's own device SDK."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from awsiot import iotshadow
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from localiot_support import (
    QOS1,
    TIMEOUT,
    ClaimSession,
    Rejected,
    SdkDevice,
    connect_claim,
    first_message,
    hook_server,
)
from support.services import Endpoints

pytestmark = pytest.mark.integration


def test_sdk_provisions_a_meter_that_then_receives_a_shadow_delta(
    localiot: Any,
    endpoints: Endpoints,
    iot: Any,
    iot_data: Any,
    listener: Any,
    serial: str,
    provisioned: Any,
) -> None:
    events = listener(f"$aws/events/thing/{serial}/created")
    device = provisioned(serial)

    assert device.thing_name == serial
    _, event = events.wait_for(lambda t, _p: t.endswith("/created"))
    assert event["operation"] == "CREATED"
    assert event["thingName"] == serial
    assert iot.describe_thing(thingName=serial)["thingName"] == serial
    described = iot.describe_certificate(certificateId=device.certificate_id)
    assert described["certificateDescription"]["status"] == "ACTIVE"
    principals = iot.list_thing_principals(thingName=serial)["principals"]
    assert described["certificateDescription"]["certificateArn"] in principals

    # Reconnect as the thing with the new certificate, and act on a delta.
    meter = SdkDevice.connect(device.cert, device.key, endpoints.pki("ca.crt"), serial)
    try:
        shadow = iotshadow.IotShadowClient(meter.client)
        delta = first_message(
            shadow.subscribe_to_shadow_delta_updated_events,
            iotshadow.ShadowDeltaUpdatedSubscriptionRequest(thing_name=serial),
        )
        iot_data.update_thing_shadow(
            thingName=serial, payload=json.dumps({"state": {"desired": {"data_interval": 30}}})
        )
        received = delta.result(TIMEOUT)
        assert received.state == {"data_interval": 30}
        assert received.version == 1

        # The meter reports; the backend sees it over HTTP and the delta is gone.
        accepted = first_message(
            shadow.subscribe_to_update_shadow_accepted,
            iotshadow.UpdateShadowSubscriptionRequest(thing_name=serial),
        )
        shadow.publish_update_shadow(
            iotshadow.UpdateShadowRequest(
                thing_name=serial,
                state=iotshadow.ShadowState(reported={"data_interval": 30}),
                client_token="report-1",
            ),
            QOS1,
        ).result(TIMEOUT)
        assert accepted.result(TIMEOUT).client_token == "report-1"
        document = json.loads(iot_data.get_thing_shadow(thingName=serial)["payload"].read())
        assert document["state"] == {
            "desired": {"data_interval": 30},
            "reported": {"data_interval": 30},
        }
        assert document["version"] == 2
    finally:
        meter.stop()


def test_create_from_csr_keeps_the_devices_key(
    localiot: Any, endpoints: Endpoints, serial: str, tmp_path: Path, provisioned: Any
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, serial)]))
        .sign(key, hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
        .decode()
    )
    claim = connect_claim(endpoints)
    try:
        session = ClaimSession(claim)
        created = session.create_certificate_from_csr(csr)
        registered = session.register_thing(
            "msm-meter", created.certificate_ownership_token, {"SerialNumber": serial}
        )
    finally:
        claim.stop()
    assert registered.thing_name == serial
    provisioned.track(created.certificate_id)
    cert = x509.load_pem_x509_certificate(created.certificate_pem.encode())
    assert cert.public_key() == key.public_key()
    cert_file, key_file = tmp_path / "csr.crt", tmp_path / "csr.key"
    cert_file.write_text(created.certificate_pem)
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    SdkDevice.connect(cert_file, key_file, endpoints.pki("ca.crt"), serial).stop()


def test_a_bogus_ownership_token_is_rejected_in_aws_shape(
    localiot: Any, endpoints: Endpoints, iot: Any, serial: str
) -> None:
    claim = connect_claim(endpoints)
    try:
        session = ClaimSession(claim)
        session.create_keys_and_certificate()
        with pytest.raises(Rejected) as rejected:
            session.register_thing("msm-meter", "bogus-token", {"SerialNumber": serial})
    finally:
        claim.stop()
    assert rejected.value.error.status_code == 400
    assert rejected.value.error.error_code == "InvalidCertificateOwnershipToken"
    assert rejected.value.error.error_message
    assert serial not in [t["thingName"] for t in iot.list_things()["things"]]


def test_a_hook_that_denies_is_rejected_and_nothing_is_registered(
    localiot: Any,
    endpoints: Endpoints,
    iot: Any,
    template_file: Any,
    serial: str,
    provisioned: Any,
) -> None:
    with hook_server({"allowProvisioning": False}) as hook:
        template = template_file(hook.url)
        with pytest.raises(Rejected) as rejected:
            provisioned(serial, template)
    assert rejected.value.error.status_code == 403
    assert rejected.value.error.error_code == "AccessDenied"
    [(headers, event)] = hook.calls
    assert set(event) == {
        "claimCertificateId",
        "certificateId",
        "certificatePem",
        "templateArn",
        "clientId",
        "parameters",
    }
    assert event["parameters"] == {"SerialNumber": serial}
    assert event["clientId"].startswith("provision-")  # the requester, as AWS tells the hook
    assert event["templateArn"].endswith(f":provisioningtemplate/{template}")
    assert event["certificatePem"].startswith("-----BEGIN CERTIFICATE-----")
    if localiot.hook_token.get_secret_value():
        assert headers["Authorization"] == f"Bearer {localiot.hook_token.get_secret_value()}"
    assert serial not in [t["thingName"] for t in iot.list_things()["things"]]


def test_a_hook_can_override_parameters(
    localiot: Any, endpoints: Endpoints, template_file: Any, serial: str, provisioned: Any
) -> None:
    canonical = serial.upper().replace("METER", "meter")
    answer = {"allowProvisioning": True, "parameterOverrides": {"SerialNumber": canonical}}
    with hook_server(answer) as hook:
        device = provisioned(serial, template_file(hook.url))
    assert device.thing_name == canonical


def test_the_claim_certificate_cannot_publish_telemetry(
    localiot: Any, endpoints: Endpoints, listener: Any, serial: str
) -> None:
    topic = f"msm/{serial}/telemetry"
    backend = listener(topic)
    claim = connect_claim(endpoints)
    try:
        claim.publish(topic, b'{"channel_id": 1}')
    finally:
        claim.stop()
    assert backend.nothing_on(topic, 2.0)
    # The listener does hear a publisher that may publish there.
    loadgen = SdkDevice.connect(
        endpoints.pki("loadgen.crt"),
        endpoints.pki("loadgen.key"),
        endpoints.pki("ca.crt"),
        f"{serial}-lg",
    )
    try:
        loadgen.publish(topic, b'{"channel_id": 2}')
    finally:
        loadgen.stop()
    backend.wait_for(lambda t, _p: t == topic)


def test_a_provisioned_device_may_use_its_own_topics_only(
    localiot: Any, endpoints: Endpoints, listener: Any, serial: str, provisioned: Any
) -> None:
    device = provisioned(serial)
    other = f"{serial}-other"
    backend = listener(f"msm/{serial}/telemetry", f"msm/{other}/telemetry")
    meter = SdkDevice.connect(device.cert, device.key, endpoints.pki("ca.crt"), serial)
    try:
        meter.publish(f"msm/{other}/telemetry", b"{}")
        meter.publish(f"msm/{serial}/telemetry", b"{}")
    finally:
        meter.stop()
    backend.wait_for(lambda t, _p: t == f"msm/{serial}/telemetry")
    assert backend.nothing_on(f"msm/{other}/telemetry", 1.0)


def test_another_holder_of_the_claim_certificate_never_sees_a_meters_reply(
    localiot: Any, endpoints: Endpoints, serial: str, provisioned: Any
) -> None:
    """AWS answers only the requesting connection; so does localiot (per-client topics)."""
    snoop = connect_claim(endpoints)
    seen: list[str] = []
    try:
        connection = snoop.client.new_connection()
        for topic_filter in (
            "$aws/certificates/create/json/accepted",
            "$aws/certificates/#",
            "$aws/provisioning-templates/+/provision/json/accepted",
            "msm-local/claim/+/$aws/#",
            "msm-local/#",
            "#",
        ):
            subscribed, _ = connection.subscribe(
                topic_filter, QOS1, lambda topic, payload, **_: seen.append(topic)
            )
            subscribed.result(TIMEOUT)
        device = provisioned(serial)  # a meter provisions meanwhile, with its own connection
        time.sleep(1.0)
    finally:
        snoop.stop()
    assert device.thing_name == serial and device.key.read_text().startswith("-----BEGIN")
    assert seen == []  # neither its private key nor its ownership token, on any topic
