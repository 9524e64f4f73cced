"""Events to RabbitMQ `msm.events`: persistent, asynchronous publisher confirms, batched writes.

pika's SelectConnection runs on its own thread and keeps the connection (handshake, heartbeats,
confirm mode, reconnect with backoff). A batch of events is encoded by the caller into one byte
string (`amqp_frames`) and written with one call on the connection's thread; the broker's
confirms (often `multiple`) resolve the batch's `Confirmation`.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from functools import partial
from typing import Any

import pika
from msm_common.adapters.amqp_topology import EVENTS_EXCHANGE
from pika.adapters.select_connection import SelectConnection
from pika.exceptions import AMQPError

from msm_ingest.adapters.amqp_frames import (
    MIN_FRAME_MAX,
    ConfirmRange,
    append_publish,
    short_string,
    take_confirms,
)
from msm_ingest.domain.events import OutEvent

log = logging.getLogger(__name__)

PENDING, CONFIRMED, FAILED = 0, 1, 2
CONTENT_TYPE = "application/cloudevents+json"


class BatchConfirmation:
    """The broker's answer for one published batch (one state byte per event)."""

    __slots__ = ("_done", "first_tag", "remaining", "size", "states")

    def __init__(self, size: int) -> None:
        self.size = size
        self.first_tag = 0
        self.states = bytearray(size)
        self.remaining = size
        self._done = threading.Event()
        if size == 0:
            self._done.set()

    def wait(self, timeout: float) -> list[bool]:
        self._done.wait(timeout)
        return [state == CONFIRMED for state in bytes(self.states)]

    def resolve(self, start: int, stop: int, state: int) -> None:
        segment = self.states[start:stop]
        pending = segment.count(PENDING)
        if pending:
            self.states[start:stop] = segment.replace(b"\x00", bytes((state,)))
            self.remaining -= pending
            if self.remaining == 0:
                self._done.set()

    def fail(self) -> None:
        self.resolve(0, self.size, FAILED)


class _Connection(SelectConnection):  # type: ignore[misc]
    """SelectConnection that settles publisher confirms straight from its input buffer.

    RabbitMQ often confirms one message per frame; pika would decode each into objects and
    route it through its callback registry. Runs of ack/nack frames on the publishing channel
    are read here instead (see amqp_frames.take_confirms); every other frame goes to pika.
    """

    def __init__(self, *args: Any, on_confirm: ConfirmRange, **kw: Any):
        self.confirm_channel = 0  # set once the channel is in confirm mode
        self._on_confirm_frame = on_confirm
        super().__init__(*args, **kw)

    def _on_data_available(self, data_in: bytes) -> None:
        self._frame_buffer += data_in
        while self._frame_buffer:
            if self.confirm_channel:
                taken = take_confirms(
                    self._frame_buffer, self.confirm_channel, self._on_confirm_frame
                )
                if taken:
                    self._trim_frame_buffer(taken)
                    continue
            consumed, frame_value = self._read_frame()
            if not frame_value:
                return
            self._trim_frame_buffer(consumed)
            self._process_frame(frame_value)


class AmqpEventPublisher:
    """Thread-safe: any thread may `publish`; confirms arrive on the connection's thread."""

    def __init__(self, url: str, *, exchange: str = EVENTS_EXCHANGE, name: str = "msm") -> None:
        self._params = pika.URLParameters(url)
        self._params.client_properties = {"connection_name": f"{name}-events"}
        self._exchange_name = exchange
        self._exchange = short_string(exchange)
        self._content_type = short_string(CONTENT_TYPE)
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._stopping = False
        self._conn: _Connection | None = None
        self._channel: Any = None
        self._channel_number = 1
        self._max_body_frame = MIN_FRAME_MAX - 8
        self._generation = 0
        self._next_tag = 0
        self._open: deque[BatchConfirmation] = deque()
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self, timeout: float = 10.0) -> AmqpEventPublisher:
        self._thread = threading.Thread(target=self._run, name="amqp-events", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            log.warning("RabbitMQ not ready after %.0fs; events wait in the outbox", timeout)
        return self

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def wait_ready(self, timeout: float) -> bool:
        return self._ready.wait(timeout)

    def close(self) -> None:
        self._stopping = True
        conn = self._conn
        if conn is not None:
            with contextlib.suppress(AMQPError, RuntimeError, AttributeError):
                conn.ioloop.add_callback_threadsafe(self._close_connection)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _close_connection(self) -> None:
        conn = self._conn
        if conn is not None and not (conn.is_closing or conn.is_closed):
            conn.close()
        elif conn is not None:
            conn.ioloop.stop()

    def _run(self) -> None:
        delay = 0.5
        while not self._stopping:
            self._conn = _Connection(
                self._params,
                on_open_callback=self._on_open,
                on_open_error_callback=self._on_open_error,
                on_close_callback=self._on_closed,
                on_confirm=self._settle,
            )
            self._conn.ioloop.start()
            if self._stopping:
                break
            time.sleep(delay)  # reconnect backoff on this thread only; publishers fail fast
            delay = 0.5 if self._ready.is_set() else min(delay * 2, 10.0)

    # -- connection thread ---------------------------------------------------------------------
    def _on_open(self, conn: SelectConnection) -> None:
        conn.channel(on_open_callback=self._on_channel_open)

    def _on_open_error(self, conn: SelectConnection, err: BaseException) -> None:
        log.warning("RabbitMQ connection failed: %s", err)
        conn.ioloop.stop()

    def _on_closed(self, conn: SelectConnection, reason: BaseException) -> None:
        self._lost(f"connection closed: {reason}")
        conn.ioloop.stop()

    def _on_channel_open(self, channel: Any) -> None:
        self._channel = channel
        channel.add_on_close_callback(self._on_channel_closed)
        channel.exchange_declare(exchange=self._exchange_name, exchange_type="topic", durable=True)
        channel.confirm_delivery(self._on_confirm, callback=self._on_confirm_mode)

    def _on_confirm_mode(self, _frame: Any) -> None:
        conn = self._conn
        with self._lock:
            self._generation += 1
            self._next_tag = 0
            self._channel_number = self._channel.channel_number
            if conn is not None:
                self._max_body_frame = max(conn.params.frame_max, MIN_FRAME_MAX) - 8
                conn.confirm_channel = self._channel_number
        self._ready.set()

    def _on_channel_closed(self, _channel: Any, reason: BaseException) -> None:
        self._lost(f"channel closed: {reason}")
        conn = self._conn
        if conn is not None and not (conn.is_closing or conn.is_closed):
            conn.close()

    def _lost(self, why: str) -> None:
        self._ready.clear()
        with self._lock:
            self._generation += 1
            lost = list(self._open)
            self._open.clear()
        for batch in lost:
            batch.fail()
        if lost and not self._stopping:
            log.warning("RabbitMQ %s; %d unconfirmed batches failed", why, len(lost))

    def _on_confirm(self, frame: Any) -> None:
        """pika's path for a confirm (before the connection's fast path takes over)."""
        method = frame.method
        tag = method.delivery_tag
        self._settle(0 if method.multiple else tag, tag, isinstance(method, pika.spec.Basic.Ack))

    def _settle(self, first: int, tag: int, acked: bool) -> None:
        """Delivery tags `first`..`tag` were confirmed (`first` 0: every tag up to `tag`)."""
        state = CONFIRMED if acked else FAILED
        with self._lock:
            low = first or (self._open[0].first_tag if self._open else tag)
            for batch in self._open:
                if batch.first_tag > tag:
                    break
                last = batch.first_tag + batch.size - 1
                if last >= low:
                    start = max(low, batch.first_tag) - batch.first_tag
                    batch.resolve(start, min(tag, last) - batch.first_tag + 1, state)
            while self._open and self._open[0].remaining == 0:
                self._open.popleft()

    def _emit(self, batch: BatchConfirmation, data: bytes, generation: int) -> None:
        conn = self._conn
        with self._lock:
            if generation != self._generation or conn is None or not self._ready.is_set():
                batch.fail()
                return
            batch.first_tag = self._next_tag + 1
            self._next_tag += batch.size
            self._open.append(batch)
        try:
            # pika's own write path for marshalled frames; one call for the whole batch.
            conn._output_marshaled_frames([data])
        except (AMQPError, AttributeError, OSError) as exc:
            self._lost(f"write failed: {exc}")

    # -- any thread ----------------------------------------------------------------------------
    def publish(self, events: Sequence[OutEvent]) -> BatchConfirmation:
        batch = BatchConfirmation(len(events))
        if not events:
            return batch
        conn = self._conn
        with self._lock:
            generation, channel, max_body = (
                self._generation,
                self._channel_number,
                self._max_body_frame,
            )
        if conn is None or not self._ready.is_set():
            batch.fail()
            return batch
        exchange, content_type = self._exchange, self._content_type
        parts: list[bytes] = []
        for e in events:
            append_publish(
                parts, channel, exchange, e.routing_key, e.body, e.event_id, content_type, max_body
            )
        data = b"".join(parts)
        try:
            conn.ioloop.add_callback_threadsafe(partial(self._emit, batch, data, generation))
        except (AMQPError, RuntimeError, AttributeError):
            batch.fail()
        return batch
