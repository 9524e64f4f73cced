"""Ingest through our mosquitto into MongoDB and RabbitMQ: what a user of the data would see."""

from __future__ import annotations

import orjson
import pytest
from ingest_it_support import Meter, now_ms, running, settings_for
from support.event_tap import EventTap
from support.readings import telemetry_payload
from support.services import unique
from support.waiting import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def meter(endpoints):
    m = Meter(endpoints)
    yield m
    m.close()


@pytest.fixture
def backend(endpoints):
    m = Meter(endpoints, cert="test-observer")  # plays AWS IoT: presence events
    yield m
    m.close()


def test_telemetry_is_stored_and_published_and_the_devices_show_the_latest(
    endpoints, mongo_db, amqp_url, meter
):
    devices = [unique("itdev") for _ in range(3)]
    tap = EventTap(amqp_url, [f"telemetry.received.{d}" for d in devices])
    settings = settings_for(endpoints, mongo_db.name, amqp_url, subscribe_devices=",".join(devices))
    t0 = now_ms() - 60_000
    with running(settings):
        for i in range(10):
            for d in devices:
                meter.publish(
                    f"msm/{d}/telemetry", telemetry_payload(t0 + i * 1000, active_power=i)
                )
        wait_for("90 telemetry rows", lambda: mongo_db.telemetry.count_documents({}) == 90, 15)
        events = tap.wait(30)
    tap.close()
    rows = {r["_id"] for r in mongo_db.telemetry.find({}, {"_id": 1})}
    # One event per message (a device's three phases at one instant), each naming its readings;
    # a redelivered event (same id) is allowed, a missing reading is not.
    assert (
        len(rows) == 90 and {r["reading_id"] for e in events for r in e["data"]["readings"]} == rows
    )
    assert len({e["id"] for e in events}) == 30
    assert {e["type"] for e in events} == {"msm.telemetry.received"}
    device = mongo_db.devices.find_one({"_id": devices[0]})
    assert device["latest"]["0:B"]["active_power"] == 9.0
    assert int(device["latest"]["0:B"]["timestamp"].timestamp() * 1000) == t0 + 9000
    assert device["last_seen"] is not None and device["connectivity"]["connected"] is True


BAD = [
    (b"\x8f garbage " * 100_000, "too_large"),  # about 1 MB
    (b'{"timestamp": "\xff\xfe"}', "invalid_encoding"),
    (b"[" * 50_000 + b"]" * 50_000, "too_deep"),
    (b'{"timestamp": 1, "channel_id": 0, "phase": "A", "temperature": NaN}', "non_finite_number"),
    (b'{"channel_id": 0, "phase": "A", "temperature": Infinity}', "non_finite_number"),
    (telemetry_payload(now_ms(), current="high"), "field_invalid"),
]


def test_bad_payloads_are_quarantined_and_ingest_keeps_going(endpoints, mongo_db, amqp_url, meter):
    device = unique("itbad")
    settings = settings_for(endpoints, mongo_db.name, amqp_url, subscribe_devices=device)
    with running(settings) as ingest:
        for payload, _ in BAD:
            meter.publish(f"msm/{device}/telemetry", payload)
        meter.publish(f"msm/{device}/telemetry", telemetry_payload(now_ms()))
        wait_for("3 telemetry rows", lambda: mongo_db.telemetry.count_documents({}) == 3, 15)
        wait_for(
            "the rejected messages",
            lambda: mongo_db.rejected_messages.count_documents({}) == len(BAD),
            15,
        )
        assert ingest.alive
    rejected = list(mongo_db.rejected_messages.find().sort("received_at", 1))
    assert sorted(r["reason"] for r in rejected) == sorted(reason for _, reason in BAD)
    big = next(r for r in rejected if r["reason"] == "too_large")
    assert big["size"] == len(BAD[0][0]) and len(big["payload"]) == 4096
    assert {r["topic"] for r in rejected} == {f"msm/{device}/telemetry"}


def test_unknown_devices_are_quarantined_when_registration_is_required(
    endpoints, mongo_db, amqp_url, meter
):
    known, stranger = unique("itknown"), unique("itstranger")
    mongo_db.devices.insert_one({"_id": known, "status": "active"})
    settings = settings_for(
        endpoints,
        mongo_db.name,
        amqp_url,
        require_known_device=True,
        subscribe_devices=f"{known},{stranger}",
    )
    with running(settings):
        meter.publish(f"msm/{stranger}/telemetry", telemetry_payload(now_ms()))
        meter.publish(f"msm/{known}/telemetry", telemetry_payload(now_ms()))
        wait_for(
            "the rejected messages", lambda: mongo_db.rejected_messages.count_documents({}) == 1, 15
        )
        wait_for("3 telemetry rows", lambda: mongo_db.telemetry.count_documents({}) == 3, 15)
    assert mongo_db.rejected_messages.find_one()["reason"] == "unknown_device"
    assert mongo_db.devices.find_one({"_id": stranger}) is None


def test_a_message_delivered_twice_is_stored_once(endpoints, mongo_db, amqp_url, meter):
    device = unique("itdup")
    settings = settings_for(endpoints, mongo_db.name, amqp_url, subscribe_devices=device)
    payload = telemetry_payload(now_ms())
    with running(settings) as ingest:
        meter.publish(f"msm/{device}/telemetry", payload)
        meter.publish(f"msm/{device}/telemetry", payload)
        wait_for(
            "the duplicate counted",
            lambda: (
                ingest.metrics.registry.get_sample_value(
                    "msm_ingest_messages_total", {"kind": "telemetry", "outcome": "duplicate"}
                )
                == 1
            ),
            15,
        )
    assert mongo_db.telemetry.count_documents({}) == 3


def test_device_info_and_command_acks_become_device_state_and_events(
    endpoints, mongo_db, amqp_url, meter
):
    device = unique("itinfo")
    tap = EventTap(amqp_url, [f"device.info.{device}", f"command.ack.{device}"])
    settings = settings_for(endpoints, mongo_db.name, amqp_url, subscribe_devices=device)
    info = {
        "device_imei": "356938035643809",
        "device_ip": "10.1.2.3",
        "firmware_version": "2.1.0",
        "mqtt_status": "connected",
        "sftp_status": False,
    }
    with running(settings):
        meter.publish(f"msm/{device}/device_info", orjson.dumps(info))
        meter.publish(
            f"msm/{device}/ntp",
            orjson.dumps({"command_id": "c-1", "type": "ntp", "origin": "cloud", "server_1": "x"}),
        )
        meter.publish(f"msm/{device}/ntp", orjson.dumps({"command_id": "c-1", "status": "success"}))
        meter.publish(f"msm/{device}/reboot", b"OK")
        events = tap.wait(3)
    tap.close()
    stored = mongo_db.devices.find_one({"_id": device})
    assert (
        stored["device_imei"],
        stored["firmware_version"],
        stored["mqtt_status"],
        stored["sftp_status"],
    ) == ("356938035643809", "2.1.0", True, False)
    by_type = sorted(
        ((e["type"], (e["data"].get("command_id"), e["data"].get("status"))) for e in events),
        key=repr,
    )
    assert by_type == sorted(
        [
            ("msm.command.ack", (None, "success")),
            ("msm.command.ack", ("c-1", "success")),
            ("msm.device.info", (None, None)),
        ],
        key=repr,
    )


def test_presence_out_of_order_never_overwrites_newer_connectivity(
    endpoints, mongo_db, amqp_url, backend
):
    device = unique("itpres")
    mongo_db.devices.insert_one({"_id": device})
    tap = EventTap(amqp_url, [f"device.presence.{device}"])
    settings = settings_for(endpoints, mongo_db.name, amqp_url, subscribe_devices=device)
    base = now_ms() - 10_000

    def event(kind: str, ts: int, version: int) -> None:
        body = {"clientId": device, "eventType": kind, "timestamp": ts, "versionNumber": version}
        if kind == "disconnected":
            body["disconnectReason"] = "MQTT_KEEP_ALIVE_TIMEOUT"
        backend.publish(f"$aws/events/presence/{kind}/{device}", orjson.dumps(body))

    with running(settings):
        event("connected", base + 2000, 2)
        event("disconnected", base + 1000, 1)  # late: older than the connect above
        wait_for(
            "the device's connectivity",
            lambda: mongo_db.devices.find_one({"_id": device}).get("connectivity"),
            15,
        )
        tap.wait(1, timeout=3)
        connectivity = mongo_db.devices.find_one({"_id": device})["connectivity"]
        assert connectivity["connected"] is True and connectivity["version"] == 2
        event("disconnected", base + 3000, 2)
        wait_for(
            "the device disconnected",
            lambda: not mongo_db.devices.find_one({"_id": device})["connectivity"]["connected"],
            15,
        )
        events = tap.wait(2)
    tap.close()
    connectivity = mongo_db.devices.find_one({"_id": device})["connectivity"]
    assert connectivity["last_disconnect_reason"] == "MQTT_KEEP_ALIVE_TIMEOUT"
    assert [e["data"]["connected"] for e in events] == [True, False]  # the stale one: no event
