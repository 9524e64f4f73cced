"""MQTT: a paho 2.x MQTT 5 client over mTLS that reconnects and restores its subscriptions.

Callbacks run on paho's network thread: `on_message` must only hand the message on (enqueue),
never block on a database or another broker. Only paho's public API is used.

Options for a consumer that acknowledges after its own write (ingest): `manual_ack` (then
`ack`/`ack_many` once the effect is durable), `receive_maximum` (MQTT 5 Receive Maximum: the
broker stops sending at that many unacknowledged messages, which is the back-pressure window;
paho's network thread keeps servicing keep-alive meanwhile), `clean_start=False` with
`session_expiry_s` (a persistent session: what arrives while the client is away is queued), and
several connections in one shared subscription (`shared(group, filter)`, each with its own
client id).
"""

from __future__ import annotations

import logging
import ssl
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from msm_common import topics

log = logging.getLogger(__name__)

MessageCallback = Callable[[paho.MQTTMessage], None]


@dataclass(frozen=True)
class MqttConfig:
    host: str
    port: int
    ca_file: Path | None
    cert_file: Path | None
    key_file: Path | None
    client_id: str = field(default_factory=lambda: f"msm-{uuid.uuid4().hex[:12]}")
    keepalive_s: int = 30
    clean_start: bool = True
    session_expiry_s: int = 0
    manual_ack: bool = False
    max_inflight: int = 1000
    max_queued: int = 0
    receive_maximum: int = 0  # 0: not sent (the broker's default, 65,535)


def build_client(config: MqttConfig) -> paho.Client:
    """A paho MQTT 5 client set up from `config` (TLS, in-flight window, reconnect delays)."""
    client = paho.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=config.client_id,
        protocol=paho.MQTTv5,
        manual_ack=config.manual_ack,
    )
    if config.ca_file is not None:
        client.tls_set(
            ca_certs=str(config.ca_file),
            certfile=str(config.cert_file) if config.cert_file else None,
            keyfile=str(config.key_file) if config.key_file else None,
            tls_version=ssl.PROTOCOL_TLS_CLIENT,
        )
    client.max_inflight_messages_set(config.max_inflight)
    client.max_queued_messages_set(config.max_queued)
    client.reconnect_delay_set(min_delay=1, max_delay=15)
    return client


def connect_properties(config: MqttConfig) -> Properties:
    """The CONNECT properties of `config`: session expiry and receive maximum."""
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    if config.session_expiry_s:
        props.SessionExpiryInterval = config.session_expiry_s
    if config.receive_maximum:
        props.ReceiveMaximum = config.receive_maximum
    return props


def connect_async(client: paho.Client, config: MqttConfig) -> None:
    """Schedule the connection of `client` (the network loop carries it out)."""
    client.connect_async(
        config.host,
        config.port,
        keepalive=config.keepalive_s,
        clean_start=config.clean_start,
        properties=connect_properties(config),
    )


class MqttConnection:
    """One MQTT 5 session: connect, keep subscriptions across reconnects, publish, ack."""

    def __init__(
        self,
        config: MqttConfig,
        *,
        subscriptions: Sequence[tuple[str, int]] = (),
        on_message: MessageCallback | None = None,
        on_connect: Callable[[bool], None] | None = None,
        on_disconnect: Callable[[], None] | None = None,
    ) -> None:
        self.config = config
        self._subscriptions = list(subscriptions)
        self._on_message_cb = on_message
        self._on_connect_cb = on_connect
        self._on_disconnect_cb = on_disconnect
        self.connected = threading.Event()
        self.subscribed = threading.Event()  # the broker answered this connection's SUBSCRIBE
        self.disconnects = 0  # connections lost since start (not counting stop())
        self.last_error: str | None = None
        self._stopping = False
        self.client = build_client(config)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe

    # -- paho callbacks (network thread) ---------------------------------------------------------
    def _on_connect(
        self, client: paho.Client, _ud: Any, flags: Any, reason: ReasonCode, _props: Any
    ) -> None:
        if reason.is_failure:
            self.last_error = str(reason)
            log.warning("MQTT connect refused: %s", reason)
            return
        session_present = bool(getattr(flags, "session_present", False))
        if self._subscriptions:
            # Re-subscribing is harmless when the broker kept the session, and restores it when not.
            client.subscribe([(t, SubscribeOptions(qos=q)) for t, q in self._subscriptions])
        else:
            self.subscribed.set()
        self.last_error = None
        self.connected.set()
        if self._on_connect_cb is not None:
            self._on_connect_cb(session_present)

    def _on_subscribe(
        self, _client: paho.Client, _ud: Any, _mid: int, reasons: list[Any], _props: Any
    ) -> None:
        refused = [str(r) for r in reasons if getattr(r, "is_failure", False)]
        if refused:
            log.error("MQTT %s: subscriptions refused: %s", self.config.client_id, refused)
        self.subscribed.set()

    def _on_disconnect(
        self, _client: paho.Client, _ud: Any, _flags: Any, reason: ReasonCode, _props: Any
    ) -> None:
        self.connected.clear()
        self.subscribed.clear()
        if not self._stopping:
            self.disconnects += 1
        if reason.is_failure:
            self.last_error = str(reason)
            log.warning("MQTT %s disconnected: %s", self.config.client_id, reason)
        if self._on_disconnect_cb is not None:
            self._on_disconnect_cb()

    def _on_message(self, _client: paho.Client, _ud: Any, message: paho.MQTTMessage) -> None:
        if self._on_message_cb is not None:
            self._on_message_cb(message)

    # -- public API ------------------------------------------------------------------------------
    def start(self) -> MqttConnection:
        """Connect in the background; paho keeps reconnecting until `stop()`."""
        connect_async(self.client, self.config)
        self.client.loop_start()
        return self

    def wait_connected(self, timeout: float = 10.0) -> bool:
        return self.connected.wait(timeout)

    def wait_subscribed(self, timeout: float = 10.0) -> bool:
        """Connected and subscribed (a broker delivers only after its SUBACK)."""
        return self.subscribed.wait(timeout)

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> paho.MQTTMessageInfo:
        return self.client.publish(topic, payload, qos=qos)

    def ack(self, mid: int, qos: int) -> None:
        """Acknowledge a message received with manual acks, once its effect is durable."""
        if qos > 0:
            self.client.ack(mid, qos)

    def ack_many(self, mids: Iterable[int], qos: int = 1) -> None:
        """Acknowledge several QoS `qos` messages (any thread)."""
        if qos > 0:
            for mid in mids:
                self.client.ack(mid, qos)

    def subscribe(self, topic: str, qos: int = 1) -> None:
        self._subscriptions.append((topic, qos))
        if self.connected.is_set():
            self.client.subscribe(topic, qos=qos)

    def stop(self) -> None:
        self._stopping = True
        self.client.disconnect()
        self.client.loop_stop()
        self.connected.clear()


def shared(group: str | None, topic_filter: str) -> str:
    """`$share/{group}/{filter}` so that replicas split the load; the filter itself if no group."""
    return topics.shared_subscription(topic_filter, group or None)  # built in one place
