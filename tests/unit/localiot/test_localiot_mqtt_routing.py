"""The MQTT side answers requests, never its own replies, and turns broker log lines into
presence events."""

from __future__ import annotations

import json

import paho.mqtt.client as paho
from localiot_fakes import RecordingPublisher
from msm_localiot.mqtt_side import REQUEST_FILTERS, Deps, Router, subscriptions
from msm_localiot.presence import PresenceTracker
from msm_localiot.shadow.service import ShadowService
from msm_localiot.shadow.store import InMemoryShadowStore

NOW = 1_795_000_000


def message(topic: str, payload: object, *, retain: bool = False) -> paho.MQTTMessage:
    msg = paho.MQTTMessage(topic=topic.encode())
    msg.payload = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    msg.retain = retain
    return msg


def run(*messages: paho.MQTTMessage) -> RecordingPublisher:
    publisher = RecordingPublisher()
    deps = Deps(
        ShadowService(InMemoryShadowStore(), lambda: NOW),
        None,
        PresenceTracker(),
        publisher,
        lambda: NOW * 1000,
    )
    router = Router(deps, shadow_workers=2, provisioning_workers=1)
    for msg in messages:
        router.on_message(msg)
    router.stop()  # drains the queues
    return publisher


def test_subscriptions_are_request_topics_and_the_broker_log() -> None:
    topics = [t for t, _ in subscriptions()]
    assert "$aws/things/+/shadow/update" in topics
    assert "$aws/things/+/shadow/name/+/get" in topics
    # Provisioning only on each claim client's own scope: the reply goes to that client alone.
    assert "msm-local/claim/+/$aws/provisioning-templates/+/provision/json" in topics
    assert "msm-local/claim/+/$aws/certificates/create/json" in topics
    assert not any(t.startswith(("$aws/certificates", "$aws/provisioning")) for t in topics)
    assert "$SYS/broker/log/#" in topics
    assert not any(
        t.endswith(("accepted", "rejected", "delta", "documents", "#")) for t in REQUEST_FILTERS
    )


def test_requests_are_answered_in_order_per_thing() -> None:
    base = "$aws/things/m-1/shadow"
    publisher = run(
        message(f"{base}/update", {"state": {"desired": {"a": 1}}, "clientToken": "1"}),
        message(
            f"{base}/update", {"state": {"desired": {"a": 2}}, "version": 1, "clientToken": "2"}
        ),
        message(f"{base}/get", {"clientToken": "3"}),
        message(f"{base}/name/cfg/delete", b""),
    )
    accepted = publisher.json_on(f"{base}/update/accepted")
    assert [(a["clientToken"], a["version"]) for a in accepted] == [("1", 1), ("2", 2)]
    [got] = publisher.json_on(f"{base}/get/accepted")
    assert got["state"]["desired"] == {"a": 2}
    [missing] = publisher.json_on(f"{base}/name/cfg/delete/rejected")
    assert missing["code"] == 404


def test_replies_and_retained_messages_are_not_requests() -> None:
    base = "$aws/things/m-1/shadow"
    publisher = run(
        message(f"{base}/update/accepted", {"state": {}}),
        message(f"{base}/update/delta", {"state": {}}),
        message(f"{base}/update", {"state": {"desired": {"a": 1}}}, retain=True),
        message("msm/m-1/telemetry", {}),
    )
    assert publisher.sent == []


def test_broker_log_lines_become_presence_events() -> None:
    publisher = run(
        message(
            "$SYS/broker/log/N",
            b"1795000000: New client connected from 127.0.0.1:4000 as m-1 (p5, c1, k30, u'm-1').",
        ),
        message("$SYS/broker/log/N", b"1795000001: Client m-1 closed its connection."),
        message(
            "$SYS/broker/log/N", b"1795000001: New connection from 127.0.0.1:4001 on port 8883."
        ),
    )
    assert [t for t, _ in publisher.sent] == [
        "$aws/events/presence/connected/m-1",
        "$aws/events/presence/disconnected/m-1",
    ]
    [gone] = publisher.json_on("$aws/events/presence/disconnected/m-1")
    assert gone["disconnectReason"] == "CONNECTION_LOST"
