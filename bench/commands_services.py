"""bench_commands' services: msm-* processes, a stand-in ack relay, MQTT connections."""

from __future__ import annotations

import http.client
import subprocess
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from msm_common import topics
from msm_common.adapters import amqp_topology
from msm_common.adapters.amqp import ConfirmingPublisher, OutgoingMessage
from msm_common.adapters.mqtt import MqttConfig, MqttConnection
from msm_common.contracts import CommandAck, make_event, parse_command_topic_message
from msm_common.contracts.events import COMMAND_ACK
from msm_common.settings import CommonSettings

ROOT = Path(__file__).resolve().parents[1]


def service(name: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    out = log.open("ab")
    return subprocess.Popen(
        [str(ROOT / f".venv/bin/{name}")], env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
    )


def stopper(proc: subprocess.Popen[bytes]) -> Callable[[], None]:
    def stop() -> None:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)

    return stop


def wait_http(port: int, path: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"nothing answered on :{port}{path}")


def builtin_relay(
    settings: CommonSettings, amqp_url: str, command_types: list[str]
) -> Callable[[], None]:
    """Ack events as ingest publishes them, from a minimal relay (measures the commander alone)."""
    publisher = ConfirmingPublisher(amqp_url, name="bench-relay").start()

    def on_message(msg: Any) -> None:
        parsed = topics.parse(msg.topic)
        if parsed.command_type is None or parsed.device_uuid is None:
            return
        now = datetime.now(UTC)
        ack = parse_command_topic_message(
            parsed.device_uuid, parsed.command_type, msg.payload, received_at=now
        )
        if isinstance(ack, CommandAck):
            data = {
                "command_id": ack.command_id,
                "command_type": ack.command_type.value,
                "status": ack.status.value,
                "message": ack.message,
                "received_at": now.isoformat(),
            }
            event = make_event(COMMAND_ACK, "bench-relay", ack.device_uuid, data, time=now)
            publisher.publish_async(
                [OutgoingMessage(amqp_topology.EVENTS_EXCHANGE, event.routing_key, event.to_json())]
            )

    conn = mqtt(settings, "bench-relay", [(f"msm/+/{t}", 1) for t in command_types], on_message)

    def stop() -> None:
        conn.stop()
        publisher.close()

    return stop


def mqtt(
    settings: CommonSettings,
    name: str,
    subs: list[tuple[str, int]],
    on_message: Callable[[Any], None],
) -> MqttConnection:
    config = MqttConfig(
        settings.mqtt_host,
        settings.mqtt_port,
        settings.mqtt_ca_file,
        settings.mqtt_cert_file,
        settings.mqtt_key_file,
        client_id=f"{name}-{uuid.uuid4().hex[:8]}",
    )
    conn = MqttConnection(config, subscriptions=subs, on_message=on_message).start()
    if not conn.wait_connected(10):
        raise SystemExit(f"MQTT: {conn.last_error}")
    time.sleep(0.3)
    return conn
