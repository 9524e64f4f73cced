"""Our mosquitto: mTLS identities and per-device topic rights, through the MQTT adapter."""

from __future__ import annotations

import queue
import time

import paho.mqtt.client as paho
import pytest
from msm_common.adapters.mqtt import MqttConnection
from support.services import unique

pytestmark = pytest.mark.integration


def _conn(endpoints, cert, key, **kw) -> MqttConnection:
    return MqttConnection(endpoints.mqtt_config(cert, key, unique("t")), **kw)


@pytest.fixture
def backend_inbox(endpoints):
    inbox: queue.Queue[paho.MQTTMessage] = queue.Queue()
    conn = _conn(
        endpoints,
        endpoints.pki("ingest.crt"),  # the service that reads telemetry
        endpoints.pki("ingest.key"),
        subscriptions=[("msm/+/telemetry", 1)],
        on_message=inbox.put,
    ).start()
    assert conn.wait_connected(10), conn.last_error
    yield inbox
    conn.stop()


def test_ingest_identity_connects_over_mtls_and_receives_device_telemetry(
    endpoints, issue_device_cert, backend_inbox
) -> None:
    device = unique("dev")
    cert, key = issue_device_cert(device)
    meter = _conn(endpoints, cert, key).start()
    assert meter.wait_connected(10), meter.last_error
    meter.publish(f"msm/{device}/telemetry", b'{"v": 1}', qos=1).wait_for_publish(5)

    msg = backend_inbox.get(timeout=5)
    assert (msg.topic, msg.payload) == (f"msm/{device}/telemetry", b'{"v": 1}')
    meter.stop()


def test_a_device_cannot_publish_on_another_devices_topic(
    endpoints, issue_device_cert, backend_inbox
) -> None:
    mine, other = unique("dev"), unique("dev")
    cert, key = issue_device_cert(mine)
    meter = _conn(endpoints, cert, key).start()
    assert meter.wait_connected(10)
    meter.publish(f"msm/{other}/telemetry", b'{"forged": true}', qos=1).wait_for_publish(5)
    meter.publish(f"msm/{mine}/telemetry", b'{"own": true}', qos=1).wait_for_publish(5)

    first = backend_inbox.get(timeout=5)
    assert first.topic == f"msm/{mine}/telemetry"  # the forged one never arrived
    assert backend_inbox.empty()
    meter.stop()


def test_the_claim_certificate_cannot_publish_telemetry(endpoints, backend_inbox) -> None:
    claim = _conn(endpoints, endpoints.pki("claim.crt"), endpoints.pki("claim.key")).start()
    assert claim.wait_connected(10)
    topic = f"msm/{unique('some-meter')}/telemetry"
    claim.publish(topic, b"{}", qos=1).wait_for_publish(5)
    time.sleep(1.5)
    claim.stop()
    received = []  # other tests' meters may be talking meanwhile: only ours matters
    while not backend_inbox.empty():
        received.append(backend_inbox.get().topic)
    assert topic not in received


def test_a_client_without_a_certificate_is_refused(endpoints) -> None:
    anonymous = _conn(endpoints, None, None).start()
    try:
        assert not anonymous.wait_connected(3), "broker accepted a client without a certificate"
    finally:
        anonymous.stop()


def test_a_certificate_from_another_ca_is_refused(endpoints, tmp_path) -> None:
    import subprocess

    key, crt = tmp_path / "k.pem", tmp_path / "c.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(crt),
            "-days",
            "1",
            "-subj",
            "/CN=backend",
        ],
        check=True,
        capture_output=True,
    )
    forged = _conn(endpoints, crt, key).start()
    try:
        assert not forged.wait_connected(3), "broker accepted a self-signed 'backend' certificate"
    finally:
        forged.stop()


def test_receive_maximum_holds_back_unacknowledged_messages_until_they_are_acked(
    endpoints,
) -> None:
    topic = f"msm/{unique('dev')}/telemetry"
    inbox: queue.Queue[paho.MQTTMessage] = queue.Queue()
    cfg = endpoints.mqtt_config(
        endpoints.pki("ingest.crt"),
        endpoints.pki("ingest.key"),
        unique("t"),
        manual_ack=True,
        receive_maximum=5,
    )
    reader = MqttConnection(cfg, subscriptions=[(topic, 1)], on_message=inbox.put).start()
    assert reader.wait_subscribed(10), reader.last_error
    sender = _conn(endpoints, endpoints.pki("loadgen.crt"), endpoints.pki("loadgen.key")).start()
    assert sender.wait_connected(10)
    for i in range(20):
        sender.publish(topic, b"%d" % i, qos=1)
    got = [inbox.get(timeout=5) for _ in range(5)]
    with pytest.raises(queue.Empty):
        inbox.get(timeout=1.0)  # the broker waits for acks: at most 5 in flight
    reader.ack_many([m.mid for m in got])
    got += [inbox.get(timeout=5) for _ in range(5)]
    assert [int(m.payload) for m in got] == list(range(10))
    assert reader.disconnects == 0
    sender.stop()
    reader.stop()
