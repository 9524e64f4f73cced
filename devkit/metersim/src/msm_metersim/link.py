"""One MQTT 5 connection (paho client over mTLS) driven by an `IoLoop` instead of its own thread.

It reconnects with backoff while it is wanted online, restores its subscriptions on connect
(with No Local, so a meter never hears its own acks), and counts what the broker refused.
"""

from __future__ import annotations

import logging
import socket
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as paho
from msm_common.adapters.mqtt import MqttConfig, build_client, connect_async
from msm_common.retry import Backoff
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from msm_metersim.netloop import IoLoop, Pollable, Timer

log = logging.getLogger(__name__)
SUBSCRIBE_BATCH = 100  # filters per SUBSCRIBE packet
RECONNECT = Backoff(initial_s=1.0, max_s=15.0)  # jitter spreads a fleet's reconnects


@dataclass
class LinkCounters:
    sent: int = 0
    confirmed: int = 0  # PUBACK with success
    refused: int = 0  # PUBACK with a failure code (e.g. 0x87 not authorized)
    unsent: int = 0  # publish attempted while disconnected
    connects: int = 0
    connect_failures: int = 0


class Link(Pollable):
    def __init__(
        self,
        loop: IoLoop,
        config: MqttConfig,
        *,
        on_message: Callable[[str, bytes], None],
        on_up: Callable[[], None],
        on_down: Callable[[], None],
    ) -> None:
        self.loop = loop
        self.config = config
        self.counters = LinkCounters()
        self.connected = False
        self.wanted = False
        self._filters: list[str] = []
        self._on_message_cb = on_message
        self._on_up = on_up
        self._on_down = on_down
        self._retry: Timer | None = None
        self._unacked_subscribes: set[int] = set()
        self._failed_tries = 0
        self.client = self._build()
        loop.add(self)

    def _build(self) -> paho.Client:
        # msm_common's client set-up (TLS, windows, CONNECT properties); this link only adds
        # its own network loop (the IoLoop) through paho's socket callbacks.
        client = build_client(self.config)
        connect_async(client, self.config)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        client.on_subscribe = self._on_subscribe
        client.on_socket_open = self._on_socket_open
        client.on_socket_close = self._on_socket_close
        client.on_socket_register_write = self._on_register_write
        client.on_socket_unregister_write = self._on_unregister_write
        return client

    @property
    def up(self) -> bool:
        """Connected and subscribed: ready to carry its meters."""
        return self.connected and not self._unacked_subscribes

    # -- loop thread: commands -------------------------------------------------------------------
    def add_filters(self, filters: Sequence[str]) -> None:
        """Subscribe now (if connected) and again after every reconnect."""
        self._filters.extend(filters)
        if self.connected:
            self._subscribe(filters)

    def connect(self) -> None:
        self.wanted = True
        if not self.connected and self._retry is None:
            self._attempt()

    def disconnect(self, *, abrupt: bool = False) -> None:
        """Leave: a clean DISCONNECT, or (abrupt) drop the TCP connection like a power cut."""
        self.wanted = False
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        sock = self.client.socket()
        if abrupt and isinstance(sock, socket.socket):
            sock.shutdown(
                socket.SHUT_RDWR
            )  # the broker sees the connection lost; paho notices on its next read
            self.loop.mark_dirty(self)
        elif sock is not None:
            self.client.disconnect()

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> bool:
        if not self.connected:
            self.counters.unsent += 1
            return False
        self.client.publish(topic, payload, qos=qos)
        self.counters.sent += 1
        return True

    def close(self) -> None:
        self.disconnect()
        self.loop.remove(self)

    # -- loop thread: Pollable -------------------------------------------------------------------
    def on_readable(self) -> None:
        self.client.loop_read()
        sock = self.client.socket()
        # TLS may hold whole records the kernel no longer signals as readable.
        while sock is not None and isinstance(sock, ssl.SSLSocket) and sock.pending():
            self.client.loop_read()
            sock = self.client.socket()

    def on_writable(self) -> None:
        self.client.loop_write()

    def flush(self) -> bool:
        if self.client.socket() is None:
            return False
        self.client.loop_write()
        return self.client.want_write()

    def misc(self) -> None:
        self.client.loop_misc()

    # -- internals -------------------------------------------------------------------------------
    def _attempt(self) -> None:
        self._retry = None
        if not self.wanted or self.connected:
            return
        try:
            self.client.reconnect()  # blocking TCP connect + TLS handshake, then non-blocking
        except (OSError, ValueError) as exc:  # refused, TLS failure, broker gone
            self.counters.connect_failures += 1
            log.warning("%s: connect failed: %s", self.config.client_id, exc)
            self._schedule_retry()

    def _schedule_retry(self) -> None:
        if self.wanted and self._retry is None:
            self._failed_tries += 1
            self._retry = self.loop.call_later(RECONNECT.delay(self._failed_tries), self._attempt)

    def _subscribe(self, filters: Sequence[str]) -> set[int]:
        options = SubscribeOptions(qos=1, noLocal=True)
        mids = set()
        for start in range(0, len(filters), SUBSCRIBE_BATCH):
            chunk = filters[start : start + SUBSCRIBE_BATCH]
            _rc, mid = self.client.subscribe([(topic, options) for topic in chunk])
            if mid is not None:
                mids.add(mid)
        return mids

    def _on_connect(
        self, _c: paho.Client, _u: Any, _flags: Any, reason: ReasonCode, _p: Any
    ) -> None:
        if reason.is_failure:
            self.counters.connect_failures += 1
            log.warning("%s: connection refused: %s", self.config.client_id, reason)
            return  # the broker closes the socket; _on_disconnect schedules the retry
        self.connected = True
        self.counters.connects += 1
        self._failed_tries = 0
        # Up once the broker confirmed the subscriptions: a command sent then is not missed.
        self._unacked_subscribes = self._subscribe(self._filters)
        if not self._unacked_subscribes:
            self._on_up()

    def _on_subscribe(self, _c: paho.Client, _u: Any, mid: int, _reasons: Any, _p: Any) -> None:
        if mid in self._unacked_subscribes:
            self._unacked_subscribes.discard(mid)
            if not self._unacked_subscribes and self.connected:
                self._on_up()

    def _on_disconnect(
        self, _c: paho.Client, _u: Any, _flags: Any, reason: ReasonCode, _p: Any
    ) -> None:
        was_up = self.up
        self.connected = False
        self._unacked_subscribes = set()
        if was_up:
            self._on_down()
        if self.wanted:
            log.info("%s: disconnected (%s); reconnecting", self.config.client_id, reason)
            self._schedule_retry()

    def _on_message(self, _c: paho.Client, _u: Any, message: paho.MQTTMessage) -> None:
        self._on_message_cb(message.topic, bytes(message.payload))

    def _on_publish(self, _c: paho.Client, _u: Any, _mid: int, reason: ReasonCode, _p: Any) -> None:
        if reason.is_failure:
            self.counters.refused += 1
        else:
            self.counters.confirmed += 1

    def _on_socket_open(self, _c: paho.Client, _u: Any, sock: Any) -> None:
        self.loop.watch(self, sock)

    def _on_socket_close(self, _c: paho.Client, _u: Any, _sock: Any) -> None:
        self.loop.unwatch(self)

    def _on_register_write(self, _c: paho.Client, _u: Any, _sock: Any) -> None:
        self.loop.mark_dirty(self)

    def _on_unregister_write(self, _c: paho.Client, _u: Any, _sock: Any) -> None:
        pass  # the loop drops EVENT_WRITE itself once flush() reports nothing left
