"""FastClient's receive path: QoS 1 PUBLISH packets reach the sink whole, in order, whatever
way the socket cuts the byte stream, and a closed socket is reported as a lost connection."""

from __future__ import annotations

import pytest
from msm_ingest.adapters.mqtt_client import FASTPATH_AVAILABLE, FastClient
from paho.mqtt import client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

pytestmark = pytest.mark.skipif(not FASTPATH_AVAILABLE, reason="FastClient needs paho 2.x")


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def publish(topic: str, payload: bytes, mid: int) -> bytes:
    t = topic.encode()
    body = len(t).to_bytes(2, "big") + t + mid.to_bytes(2, "big") + b"\x00" + payload
    return b"\x32" + varint(len(body)) + body


class ChunkedSocket:
    """recv() hands out the stream `size` bytes at a time, then 'nothing now', then EOF."""

    def __init__(self, stream: bytes, size: int, eof: bool = False) -> None:
        self.chunks = [stream[i : i + size] for i in range(0, len(stream), size)]
        self.eof = eof
        self.reads = 0

    def recv(self, bufsize: int) -> bytes:
        self.reads += 1
        if self.chunks:
            return self.chunks.pop(0)[:bufsize]
        if self.eof:
            return b""
        raise BlockingIOError

    def close(self) -> None:
        pass


def client_on(sock: ChunkedSocket) -> tuple[FastClient, list[tuple[bytes, bytes, int]]]:
    c = FastClient(callback_api_version=CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    got: list[tuple[bytes, bytes, int]] = []
    c.fast_sink = lambda topic, payload, mid: got.append((topic, payload, mid))
    c._sock = sock
    return c, got


# Payloads around the one-byte/two-byte remaining-length boundary (127) and a large one.
MESSAGES = [
    (f"msm/dev-{i}/telemetry", bytes([65 + i % 26]) * n, i + 1)
    for i, n in enumerate([0, 1, 100, 110, 111, 112, 127, 128, 300, 20_000, 5])
]
STREAM = b"".join(publish(*m) for m in MESSAGES)


@pytest.mark.parametrize("size", [1, 2, 3, 5, 17, 128, 4096, len(STREAM)])
def test_every_publish_reaches_the_sink_whole_and_in_order(size: int) -> None:
    sock = ChunkedSocket(STREAM, size)
    c, got = client_on(sock)

    def general_path() -> MQTTErrorCode:
        raise AssertionError("a PUBLISH took paho's byte-at-a-time reader")

    c._packet_handle = general_path  # a packet cut by a read is completed by the next read
    for _ in range(len(sock.chunks) + 2):  # one wake-up per chunk at worst
        assert c.loop_read() == MQTTErrorCode.MQTT_ERR_SUCCESS
        if len(got) == len(MESSAGES):
            break
    assert got == [(t.encode(), p, mid) for t, p, mid in MESSAGES]


def test_a_wake_up_reads_until_the_socket_is_dry_in_large_chunks() -> None:
    sock = ChunkedSocket(STREAM, 4096)
    c, got = client_on(sock)
    assert c.loop_read() == MQTTErrorCode.MQTT_ERR_SUCCESS
    assert len(got) == len(MESSAGES)
    assert (
        sock.reads == len(ChunkedSocket(STREAM, 4096).chunks) + 1
    )  # + the one that said 'no more'


def test_a_closed_socket_is_a_lost_connection_not_a_loop() -> None:
    cut = STREAM[: len(STREAM) // 2]  # EOF in the middle of a packet
    c, got = client_on(ChunkedSocket(cut, 64, eof=True))
    rcs = [c._packet_read() for _ in range(200)]
    assert MQTTErrorCode.MQTT_ERR_CONN_LOST in rcs
    assert all(m in [(t.encode(), p, mid) for t, p, mid in MESSAGES] for m in got)


def test_each_wake_up_ends_with_one_flush_after_its_packets() -> None:
    sock = ChunkedSocket(STREAM, 4096)
    c, got = client_on(sock)
    flushed: list[int] = []
    c.fast_flush = lambda: flushed.append(len(got))
    c.loop_read()
    c.loop_read()  # nothing more to read: still one flush
    assert flushed == [len(MESSAGES), len(MESSAGES)]
