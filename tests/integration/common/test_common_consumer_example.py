"""The README's consumer example, run against the real RabbitMQ: bind, dedupe, dead-letter."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pika
import pytest
from msm_common.contracts.events import COMMAND_STATUS, make_event
from support.services import unique

pytestmark = pytest.mark.integration
EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "consume_events.py"
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def status_event(event_id: str, status: str) -> bytes:
    data = {"command_id": "c1", "device_uuid": "dev-1", "status": status}
    return make_event(
        COMMAND_STATUS, "msm-commander", "dev-1", data, id=event_id, time=NOW
    ).to_json()


def test_the_consumer_example_dedupes_and_dead_letters(amqp_url: str) -> None:
    queue = unique("example-consumer")
    example = subprocess.Popen(
        [
            *(sys.executable, str(EXAMPLE), "--amqp-url", amqp_url, "--queue", queue),
            *("--bind", "command.status.*", "--max-events", "2", "--idle-timeout", "30"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert example.stdout is not None
        assert json.loads(example.stdout.readline()) == {"ready": queue}
        connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
        channel = connection.channel()
        dead = channel.queue_declare("", exclusive=True).method.queue
        channel.queue_bind(dead, "msm.dlx", routing_key=f"dead.{queue}")
        channel.confirm_delivery()
        persistent = pika.BasicProperties(delivery_mode=2, content_type="application/json")
        for key, body in [
            ("command.status.dev-1", status_event("c1:0", "queued")),
            ("command.status.dev-1", status_event("c1:0", "queued")),  # redelivered upstream
            ("telemetry.received.dev-1", b"{}"),  # not bound: never reaches the queue
            ("command.status.dev-1", b"not an event"),
            ("command.status.dev-1", status_event("c1:1", "sent")),
        ]:
            channel.basic_publish("msm.events", key, body, persistent)
        assert example.wait(timeout=60) == 0
        handled = [json.loads(line) for line in example.stdout]
        assert [(e["id"], e["type"]) for e in handled] == [
            ("c1:0", COMMAND_STATUS),
            ("c1:1", COMMAND_STATUS),
        ]
        dead_letters = []
        for _ in range(50):
            method, _props, body = channel.basic_get(dead, auto_ack=True)
            if method is not None:
                dead_letters.append(body)
                break
            connection.sleep(0.1)
        assert dead_letters == [b"not an event"]
        channel.queue_delete(queue)
        connection.close()
    finally:
        if example.poll() is None:
            example.kill()
            example.wait()
