"""Ingest against the AWS stand-ins: SQS as the source (moto) and device shadows (iot-data)."""

from __future__ import annotations

import boto3
import orjson
import pytest
from ingest_it_support import (
    ListSource,
    now_ms,
    proxied_mongo,
    running,
    settings_for,
)
from support.readings import telemetry_payload
from support.services import unique
from support.waiting import wait_for

pytestmark = pytest.mark.integration


def _aws(endpoints, service: str):
    return boto3.client(service, endpoint_url=endpoints.aws_endpoint_url, region_name="us-east-1")


@pytest.fixture
def sqs_queue(endpoints):
    sqs = _aws(endpoints, "sqs")
    url = sqs.create_queue(QueueName=unique("ingest-it"), Attributes={"VisibilityTimeout": "10"})[
        "QueueUrl"
    ]
    yield sqs, url
    sqs.delete_queue(QueueUrl=url)


def _rule_output(topic: str, payload: bytes) -> str:
    """What `SELECT *, topic() AS topic, timestamp() AS received_at` puts on the queue."""
    return orjson.dumps({**orjson.loads(payload), "topic": topic, "received_at": now_ms()}).decode()


def _left(sqs, url: str) -> int:
    attrs = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(
        attrs["ApproximateNumberOfMessagesNotVisible"]
    )


def test_sqs_messages_are_stored_and_deleted_only_after_the_write(
    endpoints, mongo_db, amqp_url, sqs_queue
):
    sqs, url = sqs_queue
    device = unique("itsqs")
    bodies = [
        _rule_output(f"msm/{device}/telemetry", telemetry_payload(now_ms() - 1000 + i))
        for i in range(24)
    ]
    bodies.append("this is not what the rule sends")
    proxy, uri = proxied_mongo(endpoints, mongo_db.name)
    settings = settings_for(
        endpoints,
        mongo_db.name,
        amqp_url,
        source="sqs",
        sqs_queue_url=url,
        sqs_wait_s=1,
        mongo_uri=uri,
        mongo_timeout_ms=500,
    )
    try:
        with running(settings):
            proxy.down()  # received, not written: nothing may be deleted
            for start in range(0, len(bodies), 10):
                chunk = bodies[start : start + 10]
                sqs.send_message_batch(
                    QueueUrl=url,
                    Entries=[{"Id": str(n), "MessageBody": b} for n, b in enumerate(chunk)],
                )
            with pytest.raises(TimeoutError):
                wait_for("a message taken off the queue", lambda: _left(sqs, url) < len(bodies), 3)
            proxy.up()
            wait_for("72 telemetry rows", lambda: mongo_db.telemetry.count_documents({}) == 72, 30)
            wait_for(
                "the rejected messages",
                lambda: mongo_db.rejected_messages.count_documents({}) == 1,
                15,
            )
            wait_for("an empty queue", lambda: _left(sqs, url) == 0, 10)
    finally:
        proxy.close()
    assert mongo_db.rejected_messages.find_one()["source"] == "sqs"
    assert mongo_db.telemetry.count_documents({"device_uuid": device}) == 72


def test_shadow_reported_follows_the_latest_readings_and_device_info(endpoints, mongo_db, amqp_url):
    iot, data = _aws(endpoints, "iot"), _aws(endpoints, "iot-data")
    device = unique("itshadow")
    iot.create_thing(thingName=device)
    settings = settings_for(
        endpoints,
        mongo_db.name,
        amqp_url,
        shadow_enabled=True,
        iot_data_endpoint=endpoints.aws_endpoint_url,
        shadow_min_interval_s=0.3,
    )
    source = ListSource()
    t0 = now_ms() - 5000

    def reported() -> dict:
        payload = data.get_thing_shadow(thingName=device)["payload"].read()
        return orjson.loads(payload)["state"]["reported"]

    try:
        with running(settings, source=source):
            for i in range(5):
                source.feed(
                    f"msm/{device}/telemetry", telemetry_payload(t0 + i * 1000, active_power=i)
                )
            info = {
                "device_imei": "356938035643809",
                "device_ip": "10.0.0.7",
                "firmware_version": "3.0.1",
                "mqtt_status": True,
                "sftp_status": True,
            }
            source.feed(f"msm/{device}/device_info", orjson.dumps(info))
            wait_for("6 acks", lambda: source.acks == 6, 15)

            def settled() -> bool:
                try:
                    state = reported()
                except data.exceptions.ResourceNotFoundException:  # the shadow is not written yet
                    return False
                latest = state.get("latest", {}).get("0:C", {})
                return latest.get("active_power") == 4 and state.get("firmware_version") == "3.0.1"

            wait_for("the shadow's reported state", settled, 10)
    finally:
        iot.delete_thing(thingName=device)
