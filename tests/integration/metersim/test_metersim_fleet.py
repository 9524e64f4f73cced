"""Simulated meters against our mosquitto, observed by a backend-certificate subscriber."""

from __future__ import annotations

import time

import pytest
from metersim_support import MQTT_PARAMS, command
from msm_common.contracts import (
    AckStatus,
    CloudCommandEcho,
    CommandAck,
    DeviceInfoMessage,
    TelemetryMessage,
)
from msm_metersim import AckPolicy

pytestmark = pytest.mark.integration


def _wait_acks(backend, uuid, kind, n=1, timeout=10.0):
    topic = f"msm/{uuid}/{kind}"
    seen = backend.wait_for(
        lambda s: s.topic == topic and isinstance(s.parsed(), CommandAck), n=n, timeout=timeout
    )
    return [s.parsed() for s in seen]


def test_a_meter_with_its_own_certificate_reports_info_and_telemetry(backend, start_fleet):
    fleet = start_fleet(1, interval_s=1)
    uuid = fleet.uuids[0]

    info = backend.on_topic(f"msm/{uuid}/device_info")[0].parsed()
    telemetry = [s.parsed() for s in backend.on_topic(f"msm/{uuid}/telemetry", n=3)]

    assert isinstance(info, DeviceInfoMessage) and len(info.device_imei) == 15
    assert all(isinstance(t, TelemetryMessage) for t in telemetry)
    assert {t.readings[0].phase for t in telemetry} == {"A", "B", "C"}
    assert backend.broker_log(f"as {uuid} ")  # its own connection: client id = uuid
    assert backend.on_topic(f"$aws/things/{uuid}/shadow/update")


def test_a_command_gets_an_ack_with_its_command_id_and_a_resend_the_same_ack(backend, start_fleet):
    fleet = start_fleet(1, interval_s=60)
    uuid = fleet.uuids[0]
    sent = command("mqtt", **MQTT_PARAMS)

    backend.send(uuid, sent)
    first = _wait_acks(backend, uuid, "mqtt")
    backend.send(uuid, sent)  # the commander retrying
    both = _wait_acks(backend, uuid, "mqtt", n=2)

    assert [(a.command_id, a.status) for a in both] == [(sent.command_id, AckStatus.SUCCESS)] * 2
    assert first[0].message == both[1].message
    [received] = fleet.received_commands(uuid)
    assert (received.command_id, received.deliveries, received.acks_sent) == (sent.command_id, 2, 2)
    time.sleep(0.5)  # a meter that took its own acks for commands would keep answering
    answers = [s.parsed() for s in backend.matching(lambda s: s.topic == f"msm/{uuid}/mqtt")]
    assert sum(isinstance(a, CommandAck) for a in answers) == 2
    assert sum(isinstance(a, CloudCommandEcho) for a in answers) == 2


def test_an_mqtt_config_command_sets_the_telemetry_interval(backend, start_fleet):
    fleet = start_fleet(1, interval_s=600)
    uuid = fleet.uuids[0]

    backend.send(uuid, command("mqtt", **MQTT_PARAMS))  # data_interval 1
    _wait_acks(backend, uuid, "mqtt")
    since = time.monotonic()

    assert len(backend.on_topic(f"msm/{uuid}/telemetry", n=6, timeout=5, since=since)) >= 6
    reported = backend.on_topic(f"$aws/things/{uuid}/shadow/update", n=2)[-1].payload
    assert b'"data_interval":1' in reported and b"s3cret" not in reported


def test_legacy_acks_carry_no_command_id(backend, start_fleet):
    fleet = start_fleet(1, interval_s=60, policy=AckPolicy(legacy=True))
    uuid = fleet.uuids[0]

    backend.send(uuid, command("ntp", server_1="pool.ntp.org"))

    [ack] = _wait_acks(backend, uuid, "ntp")
    assert (ack.command_id, ack.status) == (None, AckStatus.SUCCESS)


def test_failure_reject_and_drop_rates_shape_the_answers(backend, start_fleet):
    fleet = start_fleet(3, interval_s=60, shared_connections=1)
    failing, rejecting, silent = fleet.uuids
    fleet.set_policy(failing, AckPolicy(fail_rate=1.0))
    fleet.set_policy(rejecting, AckPolicy(reject_rate=1.0, ack_delay_ms=300))
    fleet.set_policy(silent, AckPolicy(drop_rate=1.0))

    for uuid in fleet.uuids:
        backend.send(uuid, command("ntp", server_1="pool.ntp.org"))

    assert _wait_acks(backend, failing, "ntp")[0].status is AckStatus.FAILED
    assert _wait_acks(backend, rejecting, "ntp")[0].status is AckStatus.REJECTED
    fleet.wait_for_commands(silent, 1)
    time.sleep(0.5)
    assert not backend.matching(
        lambda s: s.topic == f"msm/{silent}/ntp" and isinstance(s.parsed(), CommandAck)
    )


def test_reboot_disconnects_and_reconnects_once_even_when_resent(backend, start_fleet):
    fleet = start_fleet(1, interval_s=60)
    uuid = fleet.uuids[0]
    reboot = command("reboot")
    since = time.monotonic()

    backend.send(uuid, reboot)
    _wait_acks(backend, uuid, "reboot")
    backend.broker_log(f"Client {uuid} disconnected", since=since)
    backend.on_topic(f"msm/{uuid}/device_info", n=1, since=since)  # announced again on connect
    fleet.wait_online([uuid], timeout=10)
    backend.send(uuid, reboot)  # resent: acked again, not applied again

    assert len(_wait_acks(backend, uuid, "reboot", n=2)) == 2
    assert fleet.meters[uuid].reboots == 1
    assert len(backend.matching(lambda s: f"as {uuid} " in s.payload.decode(), since)) == 1


def test_taken_offline_a_meter_misses_commands_until_brought_back(backend, start_fleet):
    fleet = start_fleet(1, interval_s=60)
    uuid = fleet.uuids[0]
    since = time.monotonic()

    fleet.take_offline(uuid, abrupt=True)
    [gone] = backend.broker_log(f"Client {uuid} ", since=since)
    assert not gone.payload.endswith(b"disconnected.")  # no DISCONNECT packet: connection lost
    backend.send(uuid, command("ntp", server_1="pool.ntp.org"))
    time.sleep(0.3)
    assert fleet.received_commands(uuid) == []
    fleet.bring_online(uuid)
    fleet.wait_online([uuid], timeout=10)

    assert backend.on_topic(f"msm/{uuid}/device_info", since=since)
    backend.send(uuid, command("ntp", server_1="pool.ntp.org"))
    assert len(_wait_acks(backend, uuid, "ntp")) == 1


def test_shared_connections_carry_many_meters(backend, start_fleet):
    fleet = start_fleet(20, interval_s=1, shared_connections=2, batch=True)

    ours = {f"msm/{uuid}/telemetry" for uuid in fleet.uuids}
    seen = backend.wait_for(lambda s: s.topic in ours, n=40, timeout=10)

    assert {s.topic for s in backend.matching(lambda s: s.topic in ours)} == ours
    assert all(len(s.parsed().readings) == 3 for s in seen)  # batched: all phases at once
    target = fleet.uuids[7]
    backend.send(target, command("ntp", server_1="pool.ntp.org"))
    assert _wait_acks(backend, target, "ntp")[0].status is AckStatus.SUCCESS
    assert fleet.stats()["connections"] == 2


def test_a_shadow_delta_changes_the_interval_and_is_reported_back(backend, start_fleet):
    fleet = start_fleet(1, interval_s=600)
    uuid = fleet.uuids[0]
    delta = f"$aws/things/{uuid}/shadow/update/delta"

    backend.conn.publish(delta, b'{"version": 2, "state": {"data_interval": 1}}', qos=1)

    reports = backend.wait_for(
        lambda s: (
            s.topic == f"$aws/things/{uuid}/shadow/update"
            and s.payload == b'{"state":{"reported":{"data_interval":1}}}'
        )
    )
    assert backend.on_topic(f"msm/{uuid}/telemetry", n=3, timeout=5, since=reports[0].at)
    assert fleet.meters[uuid].data_interval == 1
