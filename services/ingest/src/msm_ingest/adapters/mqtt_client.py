"""The MQTT connection ingest uses: msm_common's MqttConnection with two additions.

1. MQTT 5 `ReceiveMaximum` in CONNECT, so the broker never has more unacknowledged messages in
   flight to us than the pipeline can hold (with manual acks that is the back-pressure window).
   msm_common's MqttConfig has no such option; this subclass adds it (reported upstream).
2. An optional lean receive path (`FastClient`), because paho's costs ~65 CPU-us per QoS 1
   message here: one select() and four TLS reads per packet, an MQTT 5 `Properties` object per
   PUBLISH, and one TLS write per PUBACK. FastClient reads the socket in large chunks and parses
   many packets per wake-up, hands PUBLISH packets without properties straight to a sink (the
   general path still handles everything else), and sends a batch of PUBACKs in one write.
   It overrides private paho 2.x methods, so it is used only with paho 2.x and can be switched
   off (`MSM_INGEST_MQTT_FASTPATH=false`).
"""

from __future__ import annotations

import contextlib
import logging
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import paho.mqtt.client as paho
from msm_common.adapters.mqtt import MessageCallback, MqttConfig, MqttConnection
from paho.mqtt import __version__ as paho_version
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.exception import MalformedPacket
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

log = logging.getLogger(__name__)

FastSink = Callable[[bytes, bytes, int], None]  # topic, payload, packet id (QoS 1 only)

_PUBACK = 0x40
_READ_CHUNK = 256 * 1024
_READ_BURST = 4096  # packets parsed per wake-up before letting writes and pings through
FASTPATH_AVAILABLE = paho_version.startswith("2.") and all(
    hasattr(paho.Client, name)
    for name in (
        "_sock_recv",
        "_sock_close",
        "_handle_publish",
        "_packet_read",
        "_packet_handle",
        "_packet_queue",
    )
)


def _idle_in_packet() -> dict[str, Any]:
    """paho's state between two incoming packets (as paho.Client._packet_read resets it)."""
    return {
        "command": 0,
        "have_remaining": 0,
        "remaining_count": [],
        "remaining_mult": 1,
        "remaining_length": 0,
        "packet": bytearray(b""),
        "to_process": 0,
        "pos": 0,
    }


class FastClient(paho.Client):  # type: ignore[misc]
    """paho.Client with a buffered, batched receive path for QoS 1 PUBLISH (manual acks)."""

    fast_sink: FastSink | None = None
    fast_flush: Callable[[], None] | None = None  # after each wake-up's packets: hand them on

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._rbuf = b""
        self._rpos = 0

    def _sock_recv(self, bufsize: int) -> bytes:
        if self._rpos >= len(self._rbuf):
            data: bytes = super()._sock_recv(_READ_CHUNK)  # BlockingIOError when nothing is there
            if not data:
                return data
            self._rbuf, self._rpos = data, 0
        end = self._rpos + bufsize
        chunk = self._rbuf[self._rpos : end]
        self._rpos = min(end, len(self._rbuf))
        return chunk

    def _sock_close(self) -> None:
        self._rbuf, self._rpos = b"", 0
        super()._sock_close()

    def _packet_read(self) -> MQTTErrorCode:
        # A packet wholly in the buffer is cut out here; a partial one is left to paho's
        # incremental reader (which reads through _sock_recv, i.e. this buffer, too).
        if self._in_packet["command"] == 0:
            whole = self._buffered_packet()
            while whole is None:  # a packet cut by a read (a TLS record ends mid-packet)
                refilled = self._refill()
                if refilled is None:
                    return MQTTErrorCode.MQTT_ERR_AGAIN
                if not refilled:
                    break
                whole = self._buffered_packet()
            if whole is not None:
                header, body = whole
                sink = self.fast_sink
                if sink is not None and header & 0xF6 == 0x32:  # PUBLISH, QoS 1
                    rc = self._publish_to(sink, body)
                    if rc is not None:
                        return rc
                self._in_packet["command"] = header
                self._in_packet["packet"] = bytearray(body)
                try:
                    rc = self._packet_handle()
                except MalformedPacket:
                    rc = MQTTErrorCode.MQTT_ERR_PROTOCOL
                self._in_packet = _idle_in_packet()  # type: ignore[assignment]
                return rc  # type: ignore[no-any-return]
        return super()._packet_read()  # type: ignore[no-any-return]

    def _refill(self) -> bool | None:
        """Append what the socket holds now to the unread rest of the buffer (one recv).

        None: nothing to read now (come back after select); False: the socket failed or closed,
        which paho's own reader then finds and reports. Without this, every packet that
        straddles two reads went through paho's byte-at-a-time reader."""
        try:
            data: bytes = paho.Client._sock_recv(self, _READ_CHUNK)
        except BlockingIOError:
            return None
        except OSError:
            return False
        if not data:
            return False
        rest = self._rbuf[self._rpos :]
        self._rbuf, self._rpos = (rest + data if rest else data), 0
        return True

    def _buffered_packet(self) -> tuple[int, bytes] | None:
        """(fixed header byte, rest) of the next packet if it is wholly buffered."""
        buffer, start = self._rbuf, self._rpos
        end = len(buffer)
        length, shift, pos = 0, 0, start + 1
        while True:  # remaining length: a varint of at most 4 bytes
            if pos >= end or shift > 21:
                return None
            byte = buffer[pos]
            pos += 1
            length |= (byte & 0x7F) << shift
            if byte < 0x80:
                break
            shift += 7
        if pos + length > end:
            return None
        self._rpos = pos + length
        return buffer[start], buffer[pos : pos + length]

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        try:
            return self._read_burst()
        finally:
            if self.fast_flush is not None:
                self.fast_flush()

    def _read_burst(self) -> MQTTErrorCode:
        # paho reads one packet per select(); read until the socket and buffer are dry.
        with self._msgtime_mutex:  # keepalive bookkeeping, once per wake-up, not per packet
            self._last_bytes_received = time.monotonic()
        for _ in range(_READ_BURST):
            if self._sock is None:
                return MQTTErrorCode.MQTT_ERR_NO_CONN
            rc = self._packet_read()
            if rc == MQTTErrorCode.MQTT_ERR_AGAIN:
                return MQTTErrorCode.MQTT_ERR_SUCCESS
            if rc > 0:
                return self._loop_rc_handle(rc)  # type: ignore[no-any-return]
        if self._sockpairW is not None:  # more is buffered: make the next select() return
            with contextlib.suppress(BlockingIOError):
                self._sockpairW.send(b"0")
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def _handle_publish(self) -> MQTTErrorCode:
        # Packets that arrived in pieces come through paho's reader and end up here.
        sink = self.fast_sink
        if sink is not None and (self._in_packet["command"] & 0x06) == 0x02:  # QoS 1
            rc = self._publish_to(sink, bytes(self._in_packet["packet"]))
            if rc is not None:
                return rc
        return super()._handle_publish()  # type: ignore[no-any-return]

    @staticmethod
    def _publish_to(sink: FastSink, body: bytes) -> MQTTErrorCode | None:
        """Hand a QoS 1 PUBLISH without properties to `sink`; None: take the general path."""
        try:
            end = 2 + ((body[0] << 8) | body[1])
            mid = (body[end] << 8) | body[end + 1]
            if body[end + 2] != 0:  # MQTT 5 properties present
                return None
        except IndexError:
            return MQTTErrorCode.MQTT_ERR_PROTOCOL
        sink(body[2:end], body[end + 3 :], mid)
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def ack_many(self, mids: Sequence[int]) -> None:
        """PUBACK (success) for each packet id, queued as one write."""
        if mids:
            data = b"".join([bytes((_PUBACK, 2, mid >> 8, mid & 0xFF)) for mid in mids])
            self._packet_queue(_PUBACK, data, 0, 0)


class IngestMqttConnection(MqttConnection):
    """MqttConnection + ReceiveMaximum + (optionally) FastClient."""

    def __init__(
        self,
        config: MqttConfig,
        *,
        receive_maximum: int,
        fast_sink: FastSink | None = None,
        fast_flush: Callable[[], None] | None = None,
        subscriptions: Sequence[tuple[str, int]] = (),
        on_message: MessageCallback | None = None,
        on_connect: Callable[[bool], None] | None = None,
        on_disconnect: Callable[[], None] | None = None,
    ) -> None:
        self._receive_maximum = receive_maximum
        self._fast_sink = fast_sink if FASTPATH_AVAILABLE and config.manual_ack else None
        self._fast_flush = fast_flush
        self.subscribed = threading.Event()
        super().__init__(
            config,
            subscriptions=subscriptions,
            on_message=on_message,
            on_connect=on_connect,
            on_disconnect=on_disconnect,
        )

    @property
    def fast(self) -> bool:
        return self._fast_sink is not None

    def _build(self) -> paho.Client:
        # As MqttConnection._build, with FastClient when the lean path is wanted.
        cfg = self.config
        cls = FastClient if self._fast_sink is not None else paho.Client
        client = cls(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=cfg.client_id,
            protocol=paho.MQTTv5,
            manual_ack=cfg.manual_ack,
        )
        if isinstance(client, FastClient):
            client.fast_sink = self._fast_sink
            client.fast_flush = self._fast_flush
        if cfg.ca_file is not None:
            client.tls_set(
                ca_certs=str(cfg.ca_file),
                certfile=str(cfg.cert_file) if cfg.cert_file else None,
                keyfile=str(cfg.key_file) if cfg.key_file else None,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
        client.max_inflight_messages_set(cfg.max_inflight)
        client.max_queued_messages_set(cfg.max_queued)
        client.reconnect_delay_set(min_delay=1, max_delay=15)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribed
        return client

    def _on_disconnect(self, *args: Any) -> None:
        self.subscribed.clear()
        super()._on_disconnect(*args)

    def _on_subscribed(
        self, _client: paho.Client, _ud: Any, _mid: int, reasons: list[Any], _props: Any
    ) -> None:
        refused = [str(r) for r in reasons if getattr(r, "is_failure", False)]
        if refused:
            log.error("MQTT %s: subscriptions refused: %s", self.config.client_id, refused)
        self.subscribed.set()

    def start(self) -> IngestMqttConnection:
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        if self.config.session_expiry_s:
            props.SessionExpiryInterval = self.config.session_expiry_s
        props.ReceiveMaximum = self._receive_maximum
        self.client.connect_async(
            self.config.host,
            self.config.port,
            keepalive=self.config.keepalive_s,
            clean_start=self.config.clean_start,
            properties=props,
        )
        self.client.loop_start()
        return self

    def ack_many(self, mids: Iterable[int]) -> None:
        client = self.client
        if isinstance(client, FastClient):
            client.ack_many(list(mids))
        else:
            for mid in mids:
                client.ack(mid, 1)
