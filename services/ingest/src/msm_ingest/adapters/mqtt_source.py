"""MQTT source: persistent MQTT 5 sessions with manual acks, optionally a shared subscription.

Each connection has a fixed client id (its session survives restarts: what arrives while ingest
is down is queued by the broker, and what was delivered but not acknowledged comes again).
Replicas and connections in one `$share/{group}/` split the device topics. Presence topics are
never shared (mosquitto does not share `$` topics): every replica applies every presence event,
which is idempotent. paho's network thread only builds a Delivery and enqueues it (never blocks:
with manual acks the broker stops at the receive maximum, which the queue always has room for),
so keep-alive is serviced however busy the pipeline is. msm_common's MqttConnection, paho's
public API only (`manual_ack=True`, `Client.ack`).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import paho.mqtt.client as paho
from msm_common import topics
from msm_common.adapters.mqtt import MqttConfig, MqttConnection, shared

from msm_ingest.ports import Delivery, Sink

log = logging.getLogger(__name__)

DEVICE_FILTERS = tuple(f for f in topics.INGEST_FILTERS if f != topics.PRESENCE_FILTER)


@dataclass(frozen=True)
class MqttSourceConfig:
    host: str
    port: int
    ca_file: Path | None
    cert_file: Path | None
    key_file: Path | None
    client_id: str
    shared_group: str = ""
    connections: int = 1
    session_expiry_s: int = 3600
    receive_maximum: int = 1000
    keepalive_s: int = 30
    devices: tuple[str, ...] = ("+",)


def subscriptions(
    group: str, index: int, devices: tuple[str, ...] = ("+",)
) -> list[tuple[str, int]]:
    """What connection `index` subscribes to (presence only on the first connection)."""
    filters = [f.replace("/+/", f"/{device}/", 1) for device in devices for f in DEVICE_FILTERS]
    subs = [(shared(group or None, f), 1) for f in filters]
    if index == 0:
        subs += [(topics.PRESENCE_FILTER.removesuffix("+") + d, 1) for d in devices]
    return subs


def _noop() -> None:
    return None


class MqttSource:
    name = "mqtt"
    sink_may_block = False  # paho's network thread calls the sink: it must never wait

    def __init__(self, config: MqttSourceConfig) -> None:
        self.config = config
        self._sink: Sink | None = None
        self._paused = False
        self._lock = threading.Lock()
        self._connections: list[MqttConnection] = []
        self._generation: list[int] = []
        self._acks: list[list[tuple[int, int]]] = []

    def client_id(self, index: int) -> str:
        base = self.config.client_id
        return base if self.config.connections == 1 else f"{base}-{index}"

    def start(self, sink: Sink) -> None:
        self._sink = sink
        cfg = self.config
        for index in range(cfg.connections):
            self._generation.append(0)
            self._acks.append([])
            mqtt = MqttConfig(
                cfg.host,
                cfg.port,
                cfg.ca_file,
                cfg.cert_file,
                cfg.key_file,
                client_id=self.client_id(index),
                keepalive_s=cfg.keepalive_s,
                clean_start=False,
                session_expiry_s=cfg.session_expiry_s,
                manual_ack=True,
                receive_maximum=cfg.receive_maximum,
            )
            conn = MqttConnection(
                mqtt,
                subscriptions=subscriptions(cfg.shared_group, index, cfg.devices),
                on_message=partial(self._on_message, index),
                on_connect=partial(self._on_connect, index),
            )
            self._connections.append(conn)
            conn.start()

    def wait_connected(self, timeout: float) -> bool:
        """Connected and subscribed (the broker delivers only after its SUBACK)."""
        return all(c.subscribed.wait(timeout) for c in self._connections)

    @property
    def disconnects(self) -> int:
        """Connections lost since start (keep-alive timeouts included)."""
        return sum(c.disconnects for c in self._connections)

    def ready(self) -> bool:
        return bool(self._connections) and all(c.connected.is_set() for c in self._connections)

    # -- paho's thread ---------------------------------------------------------------------------
    def _on_connect(self, index: int, session_present: bool) -> None:
        # Acks of deliveries from the previous connection must not be sent on this one: the
        # broker resends those messages (same session) and they are acked when processed again.
        with self._lock:
            self._generation[index] += 1
        if not session_present:
            log.warning("MQTT %s: no previous session (new, or expired)", self.client_id(index))

    def _on_message(self, index: int, message: paho.MQTTMessage) -> None:
        if self._paused or self._sink is None:
            return
        if message.qos == 0:
            ack = _noop
        else:
            ack = partial(self._ack, index, self._generation[index], message.mid)
        received = datetime.now(UTC)
        self._sink([Delivery(message.topic, bytes(message.payload), received, ack, "mqtt")])

    # -- the pipeline's threads ------------------------------------------------------------------
    def _ack(self, index: int, generation: int, mid: int) -> None:
        with self._lock:
            self._acks[index].append((generation, mid))

    def flush_acks(self) -> None:
        for index, conn in enumerate(self._connections):
            with self._lock:
                pending, self._acks[index] = self._acks[index], []
                current = self._generation[index]
            if pending:
                conn.ack_many(mid for generation, mid in pending if generation == current)

    def pause(self) -> None:
        self._paused = True

    def stop(self) -> None:
        self.flush_acks()
        for conn in self._connections:
            conn.stop()
