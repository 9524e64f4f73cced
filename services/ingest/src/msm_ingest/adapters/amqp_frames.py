"""AMQP 0-9-1 frames ingest handles itself: `basic.publish` out, `basic.ack`/`nack` in.

pika encodes a publish through several objects and writes its three frames one syscall each,
and dispatches every incoming confirm through its callback machinery (~40 CPU-us per message
here, both ways). Ingest publishes three events per MQTT message, so it encodes a whole batch
into one byte string and reads confirms straight from the input buffer. The bytes equal pika's
own marshalling (a unit test compares them).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Final

FRAME_END: Final = b"\xce"
MIN_FRAME_MAX: Final = 4096  # every AMQP 0-9-1 broker accepts frames of this size
CONFIRM_FRAME_SIZE: Final = 21
_FRAME_HEAD = struct.Struct(">BHI")
_PUBLISH_HEAD = struct.pack(">HHH", 60, 40, 0)  # basic.publish, reserved ticket
# Header frame start: type 2, channel, size, then class 60, weight 0, body size, property flags
# content-type (bit 15), delivery-mode (bit 12), message-id (bit 7).
_HEADER_HEAD = struct.Struct(">BHIHHQH")
_FLAGS: Final = 0x8000 | 0x1000 | 0x0080
_PERSISTENT: Final = b"\x02"
_METHOD_END: Final = b"\x00" + FRAME_END  # mandatory/immediate bits, then frame end
# A basic.ack (class 60, method 80) or basic.nack (120) method frame has a 13-byte payload.
_CONFIRM_PREFIX: Final = b"\x00\x00\x00\x0d\x00\x3c"
ACK_METHOD: Final = b"\x00\x50"
NACK_METHOD: Final = b"\x00\x78"


def short_string(value: str) -> bytes:
    raw = value.encode()
    if len(raw) > 255:
        raise ValueError(f"AMQP short string longer than 255 bytes: {value[:40]!r}...")
    return bytes((len(raw),)) + raw


def encode_publish(
    channel: int,
    *,
    exchange: bytes,
    routing_key: str,
    body: bytes,
    message_id: str,
    content_type: bytes,
    max_body_frame: int,
) -> bytes:
    """Method, header and body frames of one persistent message.

    `exchange` and `content_type` are already short strings (see `short_string`);
    `max_body_frame` is the negotiated frame_max minus the 8 bytes of frame overhead.
    """
    parts: list[bytes] = []
    append_publish(
        parts, channel, exchange, routing_key, body, message_id, content_type, max_body_frame
    )
    return b"".join(parts)


def append_publish(  # noqa: PLR0917 - the hot path: positional on purpose
    parts: list[bytes],
    channel: int,
    exchange: bytes,
    routing_key: str,
    body: bytes,
    message_id: str,
    content_type: bytes,
    max_body_frame: int,
) -> None:
    """`encode_publish` appending its pieces to `parts` (a batch joins them once)."""
    key, mid = routing_key.encode(), message_id.encode()
    if len(key) > 255 or len(mid) > 255:
        raise ValueError("AMQP routing key and message id are at most 255 bytes")
    size = len(body)
    parts += (
        _FRAME_HEAD.pack(1, channel, 8 + len(exchange) + len(key)),
        _PUBLISH_HEAD,
        exchange,
        bytes((len(key),)),
        key,
        _METHOD_END,
        _HEADER_HEAD.pack(2, channel, 16 + len(content_type) + len(mid), 60, 0, size, _FLAGS),
        content_type,
        _PERSISTENT,
        bytes((len(mid),)),
        mid,
        FRAME_END,
    )
    if size <= max_body_frame:
        parts += (_FRAME_HEAD.pack(3, channel, size), body, FRAME_END) if size else ()
        return
    for start in range(0, size, max_body_frame):
        chunk = body[start : start + max_body_frame]
        parts += (_FRAME_HEAD.pack(3, channel, len(chunk)), chunk, FRAME_END)


ConfirmRange = Callable[[int, int, bool], None]


def take_confirms(buffer: bytes, channel: int, on_confirm: ConfirmRange) -> int:
    """Handle the `basic.ack`/`basic.nack` frames at the start of `buffer`; bytes consumed.

    Calls `on_confirm(first, last, acked)` for each run of delivery tags, `first` 0 meaning
    "every tag up to `last`" (a `multiple` confirm); consecutive single confirms of one kind are
    merged into one run. Stops at the first other or partial frame.
    """
    pos, end = 0, len(buffer)
    channel_bytes = channel.to_bytes(2, "big")
    run: list[int] = []  # first, last, acked (as 0/1) of the pending run
    while end - pos >= CONFIRM_FRAME_SIZE and buffer[pos] == 1:
        if buffer[pos + 1 : pos + 3] != channel_bytes:
            break
        if buffer[pos + 3 : pos + 9] != _CONFIRM_PREFIX or buffer[pos + 20] != 0xCE:
            break
        method = buffer[pos + 9 : pos + 11]
        if method not in (ACK_METHOD, NACK_METHOD):
            break
        tag = int.from_bytes(buffer[pos + 11 : pos + 19], "big")
        acked = int(method == ACK_METHOD)
        first = 0 if buffer[pos + 19] & 1 else tag
        if run and first == run[1] + 1 and acked == run[2]:
            run[1] = tag
        else:
            if run:
                on_confirm(run[0], run[1], bool(run[2]))
            run = [first, tag, acked]
        pos += CONFIRM_FRAME_SIZE
    if run:
        on_confirm(run[0], run[1], bool(run[2]))
    return pos
