"""Adapter logic without I/O: SQS rule messages, subscriptions, settings."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import orjson
import pytest
from msm_common.settings import SettingsError
from msm_ingest.adapters.mqtt_source import subscriptions
from msm_ingest.adapters.sqs_source import decode_rule_message
from msm_ingest.settings import IngestSettings

NOW = datetime(2025, 6, 1, tzinfo=UTC)


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
