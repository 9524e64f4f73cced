"""Adapter logic without I/O: AMQP frames, SQS rule messages, subscriptions, settings."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import orjson
import pytest
from msm_common.settings import SettingsError
from msm_ingest.adapters.amqp_frames import encode_publish, short_string, take_confirms
from msm_ingest.adapters.event_publisher import AmqpEventPublisher, BatchConfirmation
from msm_ingest.adapters.mqtt_source import subscriptions
from msm_ingest.adapters.sqs_source import decode_rule_message
from msm_ingest.settings import IngestSettings
from pika import frame, spec

NOW = datetime(2025, 6, 1, tzinfo=UTC)


@pytest.mark.parametrize("body", [b"", b'{"a": 1}', bytes(range(256)) * 40])
def test_publish_frames_equal_pikas_own(body):
    ours = encode_publish(
        3,
        exchange=short_string("msm.events"),
        routing_key="telemetry.received.dev-1",
        body=body,
        message_id="dev-1:0:A:1",
        content_type=short_string("application/cloudevents+json"),
        max_body_frame=4088,
    )
    props = spec.BasicProperties(
        content_type="application/cloudevents+json", delivery_mode=2, message_id="dev-1:0:A:1"
    )
    expected = [
        frame.Method(
            3, spec.Basic.Publish(exchange="msm.events", routing_key="telemetry.received.dev-1")
        ).marshal(),
        frame.Header(3, len(body), props).marshal(),
    ]
    expected += [frame.Body(3, body[i : i + 4088]).marshal() for i in range(0, len(body), 4088)]
    assert ours == b"".join(expected)


def test_short_strings_longer_than_255_bytes_are_refused():
    with pytest.raises(ValueError):
        short_string("x" * 256)


def test_rule_message_strips_the_rule_fields_and_keeps_the_device_payload():
    body = orjson.dumps(
        {"timestamp": 1, "readings": [], "topic": "msm/d/telemetry", "received_at": 1748736000123}
    )
    topic, payload, received = decode_rule_message(body.decode(), NOW)
    assert topic == "msm/d/telemetry"
    assert orjson.loads(payload) == {"timestamp": 1, "readings": []}
    assert received == datetime(2025, 6, 1, 0, 0, 0, 123000, tzinfo=UTC)


def test_rule_message_with_raw_bytes_is_decoded():
    raw = b"\xff not json"
    body = orjson.dumps({"payload_b64": base64.b64encode(raw).decode(), "topic": "msm/d/ntp"})
    assert decode_rule_message(body, NOW) == ("msm/d/ntp", raw, NOW)


@pytest.mark.parametrize("body", ["not json", "[1]", '{"no_topic": 1}', '{"topic": 5}'])
def test_rule_message_without_a_topic_becomes_an_unroutable_delivery(body):
    topic, payload, _ = decode_rule_message(body, NOW)
    assert topic == "" and payload == body.encode()


def test_subscriptions_share_device_topics_but_never_presence():
    subs = dict(subscriptions("g", 0))
    assert "$share/g/msm/+/telemetry" in subs and "$share/g/msm/+/sftp" in subs
    assert "$aws/events/presence/+/+" in subs
    assert "$aws/events/presence/+/+" not in dict(subscriptions("g", 1))
    assert set(dict(subscriptions("", 0, ("d1",)))) >= {"msm/d1/telemetry", "msm/d1/device_info"}


def test_settings_defaults_and_validation():
    s = IngestSettings(client_id="c")
    assert (s.batch_max, s.receive_maximum, s.metrics_port) == (500, 1000, 9101)
    assert s.effective_queue_max >= s.receive_maximum
    with pytest.raises(SettingsError, match="RECEIVE_MAXIMUM"):
        IngestSettings(batch_max=2000, receive_maximum=1000)
    with pytest.raises(SettingsError, match="SHARED_GROUP"):
        IngestSettings(mqtt_connections=2)
    with pytest.raises(SettingsError, match="SQS_QUEUE_URL"):
        IngestSettings(source="sqs")
    with pytest.raises(SettingsError, match="not a device"):
        IngestSettings(subscribe_devices="a/b")


def test_settings_read_msm_ingest_variables(monkeypatch):
    monkeypatch.setenv("MSM_INGEST_BATCH_MAX", "50")
    monkeypatch.setenv("MSM_INGEST_SHARED_GROUP", "ingest")
    monkeypatch.setenv("MSM_INGEST_REQUIRE_KNOWN_DEVICE", "true")
    s = IngestSettings()
    assert (s.batch_max, s.shared_group, s.require_known_device) == (50, "ingest", True)


def test_production_needs_explicit_endpoints(monkeypatch):
    monkeypatch.delenv("MSM_IOT_DATA_ENDPOINT", raising=False)
    with pytest.raises(SettingsError, match="MSM_IOT_DATA_ENDPOINT"):
        IngestSettings(env="production", mongo_uri="mongodb://db/msm", amqp_url="amqp://u:p@mq/")


def _confirm(tag: int, *, multiple: bool = False, ack: bool = True, channel: int = 1) -> bytes:
    method = spec.Basic.Ack(tag, multiple) if ack else spec.Basic.Nack(tag, multiple)
    return frame.Method(channel, method).marshal()


def test_confirm_frames_are_read_in_runs_and_other_frames_left_alone():
    runs: list[tuple[int, int, bool]] = []
    other = frame.Method(1, spec.Basic.QosOk()).marshal()
    buffer = (
        _confirm(1)
        + _confirm(2)
        + _confirm(3)  # one run 1..3
        + _confirm(5, multiple=True)  # everything up to 5
        + _confirm(6)
        + _confirm(7, ack=False)  # an ack, then a nack: two runs
        + other
        + _confirm(8)  # stops at the non-confirm frame
    )
    taken = take_confirms(buffer, 1, lambda *run: runs.append(run))
    assert runs == [(1, 3, True), (0, 6, True), (7, 7, False)]
    assert buffer[taken:] == other + _confirm(8)


def test_partial_or_foreign_confirm_frames_are_not_taken():
    runs: list[tuple[int, int, bool]] = []
    assert take_confirms(_confirm(1)[:-1], 1, lambda *run: runs.append(run)) == 0
    assert take_confirms(_confirm(1, channel=2), 1, lambda *run: runs.append(run)) == 0
    assert runs == []


def test_batch_confirmations_resolve_from_runs_of_tags():
    publisher = AmqpEventPublisher("amqp://guest:guest@127.0.0.1:5672/%2F")
    first, second = BatchConfirmation(3), BatchConfirmation(2)
    first.first_tag, second.first_tag = 1, 4
    publisher._open.extend([first, second])
    publisher._settle(0, 2, True)  # multiple up to 2
    publisher._settle(3, 4, False)  # nack 3..4
    publisher._settle(5, 5, True)
    assert first.wait(0) == [True, True, False]
    assert second.wait(0) == [False, True]
    assert not publisher._open
