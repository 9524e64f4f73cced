"""One MQTT identity per service, each with what it uses: a stolen ingest certificate cannot
command a meter, and only the cloud (localiot locally) announces lifecycle events."""

from __future__ import annotations

import queue
import time
from typing import Any

import pytest
from msm_common import topics
from msm_common.adapters.mqtt import MqttConnection
from support.services import unique

pytestmark = pytest.mark.integration
COMMAND = b'{"command_id": "c-1", "type": "reboot", "origin": "cloud"}'


def connect(endpoints: Any, cert: Any, key: Any, **kw: Any) -> MqttConnection:
    config = endpoints.mqtt_config(cert, key, kw.pop("client_id", unique("t")))
    conn = MqttConnection(config, **kw).start()
    assert conn.wait_connected(10), conn.last_error
    return conn


@pytest.fixture
def meter(endpoints: Any, issue_device_cert: Any) -> Any:
    """A device subscribed to its own command topics; `inbox` holds what it receives."""
    device = unique("lp-meter")
    cert, key = issue_device_cert(device)
    inbox: queue.Queue[tuple[str, bytes]] = queue.Queue()
    conn = connect(
        endpoints,
        cert,
        key,
        client_id=device,
        subscriptions=[(f"msm/{device}/+", 1)],
        on_message=lambda m: inbox.put((m.topic, bytes(m.payload))),
    )
    assert conn.wait_subscribed(10)
    yield device, inbox
    conn.stop()


def test_the_ingest_certificate_cannot_command_a_meter(endpoints: Any, meter: Any) -> None:
    device, inbox = meter
    topic = topics.command(device, "reboot")
    ingest = connect(endpoints, endpoints.pki("ingest.crt"), endpoints.pki("ingest.key"))
    commander = connect(endpoints, endpoints.pki("commander.crt"), endpoints.pki("commander.key"))
    try:
        ingest.publish(topic, COMMAND, qos=1).wait_for_publish(5)
        time.sleep(0.5)
        assert inbox.empty(), "the meter received a command published with ingest's identity"
        # The commander's identity is the one that may (and its command arrives).
        commander.publish(topic, COMMAND, qos=1).wait_for_publish(5)
        assert inbox.get(timeout=5) == (topic, COMMAND)
    finally:
        ingest.stop()
        commander.stop()


@pytest.mark.parametrize("identity", ["ingest", "commander", "provisioner", "loadgen", "claim"])
def test_no_identity_but_the_clouds_publishes_lifecycle_events(
    endpoints: Any, identity: str
) -> None:
    topic = topics.presence(unique("lp-meter"), "connected")
    watcher_inbox: queue.Queue[str] = queue.Queue()
    watcher = connect(
        endpoints,
        endpoints.pki("ingest.crt"),
        endpoints.pki("ingest.key"),
        subscriptions=[(topic, 1)],
        on_message=lambda m: watcher_inbox.put(m.topic),
    )
    client_id = "provision-" + unique("x") if identity == "claim" else unique("t")
    sender = connect(
        endpoints,
        endpoints.pki(f"{identity}.crt"),
        endpoints.pki(f"{identity}.key"),
        client_id=client_id,
    )
    localiot = connect(endpoints, endpoints.pki("localiot.crt"), endpoints.pki("localiot.key"))
    try:
        assert watcher.wait_subscribed(10)
        sender.publish(topic, b'{"eventType": "connected"}', qos=1).wait_for_publish(5)
        time.sleep(0.5)
        assert watcher_inbox.empty(), f"{identity} published a presence event"
        localiot.publish(topic, b'{"eventType": "connected"}', qos=1).wait_for_publish(5)
        assert watcher_inbox.get(timeout=5) == topic
    finally:
        for conn in (watcher, sender, localiot):
            conn.stop()
