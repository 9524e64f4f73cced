"""Events and registry messages over the real brokers: `device.provisioned` on RabbitMQ through
the outbox, and `$aws/events/thing/+/created` from MQTT."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pika
import pytest
from msm_common.adapters import amqp_topology
from msm_common.adapters.amqp import ConfirmingPublisher
from msm_common.adapters.mqtt import MqttConfig, MqttConnection
from msm_common.contracts.events import DEVICE_PROVISIONED, CloudEvent, make_event
from msm_provisioner.adapters.events import Outbox
from msm_provisioner.handlers.allowlist import import_manifest
from msm_provisioner.http.app import app_deps
from provisioner_helpers import hook_event, manifest, post_hook, serials
from support.services import unique

pytestmark = pytest.mark.integration


@pytest.fixture
def provisioned_queue(amqp_url: str) -> Iterator[tuple[Any, str]]:
    """A queue bound to `device.provisioned.#` on msm.events."""
    conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
    channel = conn.channel()
    amqp_topology.declare(channel)
    name = unique("prov-events")
    channel.queue_declare(name, exclusive=True)
    channel.queue_bind(name, amqp_topology.EVENTS_EXCHANGE, "device.provisioned.#")
    yield channel, name
    conn.close()


def receive(channel: Any, queue: str, timeout: float = 10.0) -> list[CloudEvent]:
    deadline = time.monotonic() + timeout
    got: list[CloudEvent] = []
    while time.monotonic() < deadline:
        method, _props, body = channel.basic_get(queue, auto_ack=True)
        if method is None:
            if got:
                return got
            conn_sleep(channel, 0.1)
            continue
        got.append(CloudEvent.from_json(body))
    return got


def conn_sleep(channel: Any, seconds: float) -> None:
    channel.connection.sleep(seconds)


def test_device_provisioned_reaches_rabbitmq_and_the_outbox_is_marked(
    make_app: Any, amqp_url: str, mongo_db: Any, provisioned_queue: Any
) -> None:
    publisher = ConfirmingPublisher(amqp_url, name="prov-test").start(10)
    app = make_app(events=None, amqp_publisher=publisher)
    deps = app_deps(app)
    client = app.test_client()
    (serial,) = serials(1)
    import_manifest(deps.store, manifest([serial]), now=deps.clock())
    event = hook_event(serial)
    assert post_hook(client, event).json["allowProvisioning"] is True

    channel, queue = provisioned_queue
    (received,) = receive(channel, queue)
    assert received.type == "msm.device.provisioned" and received.subject == serial
    assert received.data["certificate_id"] == event["certificateId"]
    assert received.data["device_imei"] == deps.store.allowlist_entry(serial).imei
    deadline = time.monotonic() + 5
    while mongo_db["provisioner_outbox"].find_one({"published_at": None}) and (
        time.monotonic() < deadline
    ):
        deps.events.flush()
        time.sleep(0.1)
    assert mongo_db["provisioner_outbox"].find_one({"published_at": None}) is None


def test_the_outbox_resends_what_the_broker_never_confirmed(
    mongo_db: Any, amqp_url: str, provisioned_queue: Any
) -> None:
    clock = [datetime.now(UTC)]
    down = ConfirmingPublisher("amqp://guest:guest@127.0.0.1:1/%2F", name="down")  # never up
    outbox = Outbox(mongo_db, down, lambda: clock[0])
    outbox.ensure_indexes()
    event = make_event(
        DEVICE_PROVISIONED, "test", "SIM-OUTBOX-1", {"device_uuid": "SIM-OUTBOX-1"}, time=clock[0]
    )
    outbox.publish(event)
    assert mongo_db["provisioner_outbox"].find_one({"_id": event.id})["published_at"] is None

    up = ConfirmingPublisher(amqp_url, name="up").start(10)
    try:
        clock[0] += timedelta(seconds=10)
        later = Outbox(mongo_db, up, lambda: clock[0])
        assert later.flush() == 1
        channel, queue = provisioned_queue
        assert [e.id for e in receive(channel, queue)] == [event.id]
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and later.flush() >= 0:
            if mongo_db["provisioner_outbox"].find_one({"_id": event.id})["published_at"]:
                break
            time.sleep(0.1)
        assert mongo_db["provisioner_outbox"].find_one({"_id": event.id})["published_at"]
    finally:
        up.close()


def test_thing_created_over_mqtt_registers_a_listed_device(
    make_app: Any, endpoints: Any, iot: Any
) -> None:
    app = make_app({"provisioner_reconcile_interval_s": 60}, background=True)
    deps = app_deps(app)
    (serial,) = serials(1)
    import_manifest(deps.store, manifest([serial]), now=deps.clock())
    cert = iot.create_keys_and_certificate(setAsActive=True)
    iot.create_thing(thingName=serial)
    iot.attach_thing_principal(thingName=serial, principal=cert["certificateArn"])
    background = app.extensions["msm_provisioner.background"]
    assert background.mqtt.wait_connected(10)
    time.sleep(0.5)  # let the SUBACK land

    pki = endpoints.pki_dir
    sender = MqttConnection(
        MqttConfig(
            endpoints.mqtt_host,
            endpoints.mqtt_port,
            pki / "ca.crt",
            pki / "localiot.crt",  # registry events come from AWS IoT (localiot)
            pki / "localiot.key",
        )
    )
    sender.start()
    try:
        assert sender.wait_connected(10)
        body = json.dumps(
            {
                "eventType": "THING_EVENT",
                "operation": "CREATED",
                "thingName": serial,
                "thingId": "tid-1",
            }
        ).encode()
        sender.publish(f"$aws/events/thing/{serial}/created", body, qos=1).wait_for_publish(5)
        deadline = time.monotonic() + 10
        while "registry" not in (deps.store.device(serial) or {}) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        sender.stop()
    device = deps.store.device(serial)
    assert device is not None and device["certificate_id"] == cert["certificateId"]
    assert device["registry"]["thing_id"] == "tid-1"
