"""Commands onto the device topics: MQTT 5, QoS 1, the backend identity; waits for the PUBACK."""

from __future__ import annotations

import logging
import os
import socket
from typing import Protocol

import paho.mqtt.client as paho
from msm_common.adapters.mqtt import MqttConnection
from msm_common.adapters.mqtt_settings import service_mqtt_config
from msm_common.settings import CommonSettings

log = logging.getLogger(__name__)


class CommandSender(Protocol):
    """What the scheduler needs from the broker side."""

    @property
    def connected(self) -> bool: ...

    def send(self, topic: str, payload: bytes) -> bool:
        """Publish at QoS 1; True once the broker acknowledged it."""
        ...


class MqttSender:
    def __init__(self, settings: CommonSettings, *, timeout_s: float) -> None:
        config = service_mqtt_config(
            settings, default_client_id=f"msm-commander-{socket.gethostname()}-{os.getpid()}"
        )
        self._conn = MqttConnection(config)
        self._timeout = timeout_s

    def start(self, wait_s: float = 10.0) -> MqttSender:
        self._conn.start()
        if not self._conn.wait_connected(wait_s):
            log.warning(
                "MQTT not connected after %.0fs (%s); retrying", wait_s, self._conn.last_error
            )
        return self

    @property
    def connected(self) -> bool:
        return self._conn.connected.is_set()

    def send(self, topic: str, payload: bytes) -> bool:
        info = self._conn.publish(topic, payload, qos=1)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            log.warning("MQTT publish to %s refused locally: rc=%s", topic, info.rc)
            return False
        try:
            info.wait_for_publish(self._timeout)
        except (RuntimeError, ValueError) as exc:  # paho: disconnected / queue full
            log.warning("MQTT publish to %s not acknowledged: %s", topic, exc)
            return False
        return info.is_published()

    def stop(self) -> None:
        self._conn.stop()
