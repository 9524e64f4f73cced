"""Ingest records a device's presence only from AWS IoT's lifecycle events: no other MQTT
identity can publish one (locally only localiot's may, as AWS's own topics)."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest
from ingest_it_support import Meter, now_ms, running, settings_for
from msm_common.adapters.mqtt import MqttConnection
from support.services import unique
from support.waiting import wait_for

pytestmark = pytest.mark.integration


def presence(device: str, kind: str, ts: int) -> tuple[str, bytes]:
    body = {"clientId": device, "eventType": kind, "timestamp": ts, "versionNumber": ts}
    if kind == "disconnected":
        body["disconnectReason"] = "CONNECTION_LOST"
    return f"$aws/events/presence/{kind}/{device}", orjson.dumps(body)


def test_a_presence_event_from_any_identity_but_the_clouds_is_not_accepted(
    endpoints: Any, mongo_db: Any, amqp_url: str, issue_device_cert: Any
) -> None:
    device = unique("itpid")
    mongo_db.devices.insert_one({"_id": device})
    settings = settings_for(endpoints, mongo_db.name, amqp_url, subscribe_devices=device)
    cert, key = issue_device_cert(device)
    impostors = [Meter(endpoints, cert=name) for name in ("commander", "ingest", "loadgen")]
    start = now_ms()
    with running(settings):
        # Services, the load simulator and the device itself try to fake a connect.
        for meter in impostors:
            meter.publish(*presence(device, "connected", start))
        device_conn = _device(endpoints, device, cert, key)
        device_conn.publish(*presence(device, "connected", start + 1), qos=1)
        time.sleep(1.5)
        assert "connectivity" not in mongo_db.devices.find_one({"_id": device})
        # AWS IoT's own event (localiot's identity locally) is.
        cloud = Meter(endpoints, cert="localiot")
        cloud.publish(*presence(device, "connected", start + 2))
        wait_for(
            "the device's connectivity",
            lambda: mongo_db.devices.find_one({"_id": device}).get("connectivity"),
            15,
        )
        cloud.close()
        device_conn.stop()
    for meter in impostors:
        meter.close()


def _device(endpoints: Any, device: str, cert: Any, key: Any) -> MqttConnection:
    conn = MqttConnection(endpoints.mqtt_config(cert, key, device)).start()
    assert conn.wait_connected(10), conn.last_error
    return conn
