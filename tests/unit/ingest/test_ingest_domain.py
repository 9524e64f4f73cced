"""Pure parts of ingest: event bytes, device updates, presence guard, quarantine, shadow pacing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest
from ingest_fakes import NOW
from msm_common import contracts
from msm_common.contracts import CloudEvent, DeviceInfoMessage, PresenceEvent, Reading
from msm_ingest.domain import devices, events
from msm_ingest.domain.batch import BatchPlan
from msm_ingest.domain.quarantine import quarantine_record
from msm_ingest.domain.shadow import ShadowState, ShadowThrottle


def reading(at: datetime, phase: str = "A", channel: int = 0, power: float = 100.0) -> Reading:
    return Reading("dev-1", at, channel, phase, 25.5, 230.1, 4.2, power, -3.0)


@pytest.mark.parametrize("at", [NOW, NOW + timedelta(milliseconds=123)])
def test_telemetry_event_bytes_equal_the_shared_contract(at):
    rs = [reading(at, phase) for phase in "ABC"]
    ours = events.telemetry_event(rs, [r.reading_id for r in rs], "msm-ingest")
    assert ours.body == contracts.telemetry_event(rs, source="msm-ingest").to_json()
    assert ours.routing_key == "telemetry.received.dev-1"
    assert ours.event_id == contracts.telemetry_event_id(r.reading_id for r in rs)


def test_telemetry_events_one_per_device_and_instant():
    later = NOW + timedelta(seconds=1)
    other = Reading("dev-2", NOW, 0, "A", 25.5, 230.1, 4.2, 1.0, -3.0)
    rs = [reading(NOW, "A"), reading(NOW, "B"), reading(NOW, "C"), other, reading(later, "A")]
    ids = [r.reading_id for r in rs]
    # A redelivered reading in the same batch is announced once.
    out = events.telemetry_events([*rs, rs[0]], [*ids, ids[0]], "s")
    assert out.reading_ids == [ids[:3], [ids[3]], [ids[4]]]
    bodies = [orjson.loads(e.body) for e in out.events]
    assert [b["subject"] for b in bodies] == ["dev-1", "dev-2", "dev-1"]
    phases = [[r["phase"] for r in b["data"]["readings"]] for b in bodies]
    assert phases == [["A", "B", "C"], ["A"], ["A"]]
    assert [b["data"]["timestamp"] for b in bodies] == [
        "2025-06-01T12:00:00.000Z",
        "2025-06-01T12:00:00.000Z",
        "2025-06-01T12:00:01.000Z",
    ]
    assert [e.event_id for e in out.events] == [
        contracts.telemetry_event_id(group) for group in out.reading_ids
    ]
    assert len({e.event_id for e in out.events}) == 3


def test_recovery_announces_each_sample_of_an_entry_in_one_event_as_first_published(
    store, publisher
):
    from ingest_fakes import make_recovery, orphan_entry

    t1, t2 = NOW - timedelta(minutes=5), NOW - timedelta(minutes=4)
    rs = [reading(t, p) for p in "ABC" for t in (t1, t2)]  # two samples, rows interleaved
    for r in rs:
        store.rows[r.reading_id] = r.to_document()
    ordered = sorted(rs, key=lambda r: r.timestamp)
    first = events.telemetry_events(ordered, [r.reading_id for r in ordered], "msm-ingest")
    store.outbox["lost"] = orphan_entry("lost", first.reading_ids)
    assert make_recovery(store, publisher).run_once() == 1
    readings = [orjson.loads(e.body)["data"]["readings"] for e in publisher.sent]
    assert [[r["phase"] for r in group] for group in readings] == [["A", "B", "C"]] * 2
    assert publisher.ids() == [e.event_id for e in first.events]


def test_plan_documents_equal_the_shared_reading_documents():
    plan: BatchPlan[object] = BatchPlan(NOW)
    later = NOW + timedelta(milliseconds=1)
    same_later = datetime.fromisoformat(later.isoformat())  # equal, another object
    rs = (
        reading(NOW, "A"),
        reading(NOW, "B"),
        reading(later, "A"),
        reading(same_later, "B", channel=2),
        reading(NOW, "C"),
    )
    plan.add_readings("dev-1", rs, NOW, object())
    # Written once with `processed` already true: the batch outbox, not the row, tracks events.
    assert plan.telemetry_documents() == [r.to_document() for r in rs]
    assert plan.reading_ids == [r.reading_id for r in rs]


def test_message_event_ids_are_stable_per_message():
    a = events.message_event_id("msm/d/reboot", b'{"status":"ok"}')
    assert a == events.message_event_id("msm/d/reboot", b'{"status":"ok"}')
    assert a != events.message_event_id("msm/d/ntp", b'{"status":"ok"}')


def test_presence_and_info_events_are_cloud_events_with_device_routing_keys():
    p = PresenceEvent("dev-1", False, NOW, 7, disconnect_reason="MQTT_KEEP_ALIVE_TIMEOUT")
    out = events.presence_event(p, "e1", "msm-ingest")
    event = CloudEvent.from_json(out.body)
    assert out.routing_key == "device.presence.dev-1"
    assert event.data == {
        "device_uuid": "dev-1",
        "connected": False,
        "timestamp": "2025-06-01T12:00:00.000Z",
        "version_number": 7,
        "disconnect_reason": "MQTT_KEEP_ALIVE_TIMEOUT",
    }
    info = DeviceInfoMessage("dev-1", "123456789012345", "10.0.0.1", "1.2", True, False, NOW)
    out = events.device_info_event(info, "e2", "msm-ingest")
    assert out.routing_key == "device.info.dev-1"
    assert CloudEvent.from_json(out.body).data["firmware_version"] == "1.2"


def test_device_write_keeps_the_newest_reading_per_channel_and_phase():
    old, new = reading(NOW, power=1.0), reading(NOW + timedelta(seconds=1), power=2.0)
    other = reading(NOW, phase="B")
    newest = {"dev-1": devices.newest_per_key([new, old, other])}
    [write] = devices.telemetry_writes(newest, {"dev-1": NOW}, NOW)
    assert write.update["$max"]["latest.0:A"]["active_power"] == 2.0
    assert next(iter(write.update["$max"]["latest.0:A"])) == "timestamp"  # $max compares it 1st
    assert set(write.update["$max"]) == {"last_seen", "latest.0:A", "latest.0:B"}
    assert write.update["$setOnInsert"]["connectivity"]["connected"] is True


def test_presence_guard_lets_a_disconnect_win_an_exact_tie_but_not_a_connect():
    connect = devices.presence_guard(PresenceEvent("d", True, NOW, 3))
    disconnect = devices.presence_guard(PresenceEvent("d", False, NOW, 3))
    assert connect["$or"][2] == {
        "connectivity.timestamp": NOW,
        "connectivity.version": 3,
        "connectivity.connected": True,
    }
    assert disconnect["$or"][2] == {"connectivity.timestamp": NOW, "connectivity.version": 3}


def test_quarantine_record_caps_the_payload_and_keeps_its_size():
    record = quarantine_record(
        topic="t" * 1000,
        payload=b"x" * 10_000,
        reason="too_large",
        detail="d" * 5000,
        received_at=NOW,
        source="mqtt",
        payload_cap=4096,
    )
    assert len(record["payload"]) == 4096 and record["size"] == 10_000 and record["truncated"]
    assert len(record["topic"]) == 512 and len(record["detail"]) == 1024


def test_shadow_throttle_sends_first_at_once_then_at_most_once_per_interval():
    throttle = ShadowThrottle(min_interval=10)
    state = ShadowState()
    state.add_readings({"0:A": reading(NOW)}, NOW)
    assert throttle.offer("dev-1", state, now=100.0)
    [(device, fragment)] = throttle.take_due(100.0)
    assert device == "dev-1" and fragment["latest"]["0:A"]["active_power"] == 100.0
    for i in range(5):  # five updates inside the interval merge into one
        s = ShadowState()
        s.add_readings({"0:A": reading(NOW + timedelta(seconds=i + 1), power=i)}, NOW)
        throttle.offer("dev-1", s, now=101.0 + i)
    assert throttle.take_due(105.0) == []
    assert throttle.seconds_to_next(105.0) == 5.0
    [(_, fragment)] = throttle.take_due(110.0)
    assert fragment["latest"]["0:A"]["active_power"] == 4  # the newest one
    assert fragment["last_seen"] == "2025-06-01T12:00:00.000Z"


def test_shadow_merge_keeps_the_newer_reading_when_offers_arrive_out_of_order():
    state = ShadowState()
    state.add_readings({"0:A": reading(NOW + timedelta(seconds=5), power=5)}, NOW)
    state.add_readings({"0:A": reading(NOW, power=0)}, NOW - timedelta(seconds=1))
    rendered = state.render()
    assert rendered["latest"]["0:A"]["active_power"] == 5
    assert rendered["last_seen"] == "2025-06-01T12:00:00.000Z"


def test_event_bodies_round_trip_as_json():
    r = reading(datetime(2024, 2, 29, 23, 59, 59, 999000, tzinfo=UTC))
    body = orjson.loads(events.telemetry_event([r], [r.reading_id], "s").body)
    assert body["time"] == "2024-02-29T23:59:59.999Z"
    assert body["data"]["timestamp"] == "2024-02-29T23:59:59.999Z"
