"""Helpers for the metersim integration tests: a backend-side observer, command builders."""

from __future__ import annotations

import threading
import time
import uuid as uuidlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from msm_common.adapters.mqtt import MqttConnection
from msm_common.contracts import DeviceCommand, validate_params
from msm_common.device_messages import parse_device_message
from support.services import unique


@dataclass(frozen=True)
class Seen:
    topic: str
    payload: bytes
    at: float

    def parsed(self) -> Any:
        return parse_device_message(self.topic, self.payload, received_at=datetime.now(UTC))


class Backend:
    """What the cloud sees on the broker (the tests' observer identity), and a way to send
    commands."""

    FILTERS = ("msm/#", "$aws/things/#", "$SYS/broker/log/#")

    def __init__(self, endpoints: Any) -> None:
        self._cond = threading.Condition()
        self.seen: list[Seen] = []
        config = endpoints.mqtt_config(
            endpoints.pki("test-observer.crt"), endpoints.pki("test-observer.key"), unique("be")
        )
        self.conn = MqttConnection(
            config, subscriptions=[(f, 1) for f in self.FILTERS], on_message=self._on_message
        )

    def _on_message(self, message: Any) -> None:
        with self._cond:
            self.seen.append(Seen(message.topic, bytes(message.payload), time.monotonic()))
            self._cond.notify_all()

    def matching(self, predicate: Callable[[Seen], bool], since: float = 0.0) -> list[Seen]:
        with self._cond:
            return [s for s in self.seen if s.at >= since and predicate(s)]

    def wait_for(
        self,
        predicate: Callable[[Seen], bool],
        n: int = 1,
        timeout: float = 10.0,
        since: float = 0.0,
        what: str = "messages",
    ) -> list[Seen]:
        with self._cond:
            self._cond.wait_for(lambda: len(self.matching(predicate, since)) >= n, timeout)
            found = self.matching(predicate, since)
        assert len(found) >= n, f"saw {len(found)} of {n} {what} within {timeout} s"
        return found

    def on_topic(self, topic: str, n: int = 1, timeout: float = 10.0, since: float = 0.0):
        return self.wait_for(lambda s: s.topic == topic, n, timeout, since, what=topic)

    def broker_log(self, text: str, timeout: float = 10.0, since: float = 0.0) -> list[Seen]:
        """mosquitto's $SYS log lines containing `text` (connects, disconnects)."""
        return self.wait_for(
            lambda s: s.topic.startswith("$SYS/") and text in s.payload.decode(errors="replace"),
            timeout=timeout,
            since=since,
            what=f"broker log lines with {text!r}",
        )

    def send(self, device_uuid: str, command: DeviceCommand) -> None:
        topic = f"msm/{device_uuid}/{command.type.value}"
        self.conn.publish(topic, command.to_payload(), qos=1).wait_for_publish(5)


def command(type_: str, command_id: str | None = None, **params: Any) -> DeviceCommand:
    now = datetime.now(UTC)
    return DeviceCommand(
        command_id=command_id or uuidlib.uuid4().hex,
        type=type_,
        issued_at=now,
        expires_at=now + timedelta(minutes=5),
        params=validate_params(type_, params),
    )


MQTT_PARAMS = {
    "broker_ip": "10.1.2.3",
    "broker_port": 8883,
    "broker_user": "meter",
    "broker_password": "s3cret",
    "data_interval": 1,
}
