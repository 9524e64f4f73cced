"""RabbitMQ publisher with asynchronous confirms and reconnect (pika's public API only).

The publisher runs pika's SelectConnection on its own thread so that many messages can be in
flight while their confirms arrive (a blocking publisher waits for each confirm: ~1.5k msg/s).
Callers get one confirmation per batch (`publish_batch`) or a Future per message.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from functools import partial
from typing import Any

import pika
from pika.adapters.select_connection import SelectConnection
from pika.exceptions import AMQPError

from msm_common.adapters import amqp_topology
from msm_common.retry import Backoff

log = logging.getLogger(__name__)
RECONNECT = Backoff(initial_s=0.5, max_s=10.0)


class PublishError(RuntimeError):
    """A message was not confirmed by RabbitMQ (nacked, or the connection dropped)."""


@dataclass(frozen=True)
class OutgoingMessage:
    exchange: str
    routing_key: str
    body: bytes
    message_id: str | None = None
    content_type: str = "application/cloudevents+json"
    headers: dict[str, Any] | None = None


PENDING, CONFIRMED, FAILED = 0, 1, 2


class BatchConfirmation:
    """RabbitMQ's answer for one published batch: one state per message, resolved by tag ranges.

    Cheaper than a Future per message for callers that publish thousands a second and only
    want to know, per message, whether it was confirmed (`wait`).
    """

    __slots__ = ("_done", "_futures", "first_tag", "remaining", "size", "states")

    def __init__(self, size: int, futures: list[Future[None]] | None = None) -> None:
        self.size = size
        self.first_tag = 0
        self.states = bytearray(size)
        self.remaining = size
        self._futures = futures
        self._done = threading.Event()
        if size == 0:
            self._done.set()

    def wait(self, timeout: float) -> list[bool]:
        """Per message, whether RabbitMQ confirmed it (False: nacked, lost, or not yet)."""
        self._done.wait(timeout)
        return [state == CONFIRMED for state in bytes(self.states)]

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def resolve(self, start: int, stop: int, state: int, why: str = "") -> None:
        segment = self.states[start:stop]
        pending = segment.count(PENDING)
        if not pending:
            return
        self.states[start:stop] = segment.replace(b"\x00", bytes((state,)))
        self.remaining -= pending
        if self._futures is not None:
            for index in range(start, stop):
                future = self._futures[index]
                if not future.done():
                    if state == CONFIRMED:
                        future.set_result(None)
                    else:
                        future.set_exception(PublishError(why or "message nacked by broker"))
        if self.remaining == 0:
            self._done.set()

    def fail(self, why: str) -> None:
        self.resolve(0, self.size, FAILED, why)


class ConfirmingPublisher:
    """Thread-safe publisher: persistent messages, publisher confirms, reconnect with backoff.

    `publish_batch` (one confirmation object per batch) or `publish_async` (a Future per
    message); both publish on the connection's thread with pika's public `basic_publish` and
    settle from its confirm callback, a `multiple` confirm resolving a range of tags at once.
    """

    def __init__(self, url: str, *, declare_topology: bool = True, name: str = "msm") -> None:
        self._params = pika.URLParameters(url)
        self._params.client_properties = {"connection_name": f"{name}-publisher"}
        self._declare = declare_topology
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._stopping = False
        self._conn: SelectConnection | None = None
        self._channel: Any = None
        self._next_tag = 0
        self._open: deque[BatchConfirmation] = deque()  # in tag order
        self._thread: threading.Thread | None = None
        self._loop_lock = threading.Lock()  # guards self._conn against its ioloop being closed
        self._connected_once = False

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self, timeout: float = 10.0) -> ConfirmingPublisher:
        self._thread = threading.Thread(target=self._run, name="amqp-publisher", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            log.warning("RabbitMQ publisher not ready after %.0fs; will keep retrying", timeout)
        return self

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def wait_ready(self, timeout: float) -> bool:
        return self._ready.wait(timeout)

    def close(self) -> None:
        self._stopping = True
        with self._loop_lock:
            if self._conn is not None:
                self._conn.ioloop.add_callback_threadsafe(self._close_connection)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _close_connection(self) -> None:
        if self._conn is not None and not (self._conn.is_closing or self._conn.is_closed):
            self._conn.close()
        elif self._conn is not None:
            self._conn.ioloop.stop()

    def _run(self) -> None:
        attempt = 0
        while not self._stopping:
            self._connected_once = False
            conn = SelectConnection(
                self._params,
                on_open_callback=self._on_open,
                on_open_error_callback=self._on_open_error,
                on_close_callback=self._on_closed,
            )
            with self._loop_lock:
                self._conn = conn
            conn.ioloop.start()
            with self._loop_lock:
                self._conn = None
                conn.ioloop.close()  # release its sockets and wake-up pipe
            if self._stopping:
                break
            attempt = 1 if self._connected_once else attempt + 1
            time.sleep(RECONNECT.delay(attempt))

    # -- pika callbacks (publisher thread) -----------------------------------------------------
    def _on_open(self, conn: SelectConnection) -> None:
        conn.channel(on_open_callback=self._on_channel_open)

    def _on_open_error(self, conn: SelectConnection, err: BaseException) -> None:
        log.warning("RabbitMQ connection failed: %s", err)
        conn.ioloop.stop()

    def _on_closed(self, conn: SelectConnection, reason: BaseException) -> None:
        self._ready.clear()
        self._fail_pending(f"connection closed: {reason}")
        conn.ioloop.stop()

    def _on_channel_open(self, channel: Any) -> None:
        self._channel = channel
        channel.add_on_close_callback(self._on_channel_closed)
        if self._declare:
            for name, kind in amqp_topology.EXCHANGES:
                channel.exchange_declare(exchange=name, exchange_type=kind, durable=True)
        channel.confirm_delivery(self._on_confirm, callback=self._on_confirm_mode)

    def _on_confirm_mode(self, _frame: Any) -> None:
        with self._lock:
            self._next_tag = 0
        self._connected_once = True
        self._ready.set()

    def _on_channel_closed(self, _channel: Any, reason: BaseException) -> None:
        self._ready.clear()
        self._fail_pending(f"channel closed: {reason}")
        if self._conn is not None and not (self._conn.is_closing or self._conn.is_closed):
            self._conn.close()

    def _on_confirm(self, frame: Any) -> None:
        method = frame.method
        tag = method.delivery_tag
        state = CONFIRMED if isinstance(method, pika.spec.Basic.Ack) else FAILED
        with self._lock:
            low = 1 if method.multiple else tag
            for batch in self._open:
                if batch.first_tag > tag:
                    break
                last = batch.first_tag + batch.size - 1
                if last >= low:
                    start = max(low, batch.first_tag) - batch.first_tag
                    batch.resolve(start, min(tag, last) - batch.first_tag + 1, state)
            while self._open and self._open[0].remaining == 0:
                self._open.popleft()

    def _fail_pending(self, why: str) -> None:
        with self._lock:
            lost = list(self._open)
            self._open.clear()
        for batch in lost:
            batch.fail(why)
        if lost and not self._stopping:
            log.warning("RabbitMQ %s; %d unconfirmed batches failed", why, len(lost))

    def _publish_now(self, messages: Sequence[OutgoingMessage], batch: BatchConfirmation) -> None:
        channel = self._channel
        if channel is None or not channel.is_open or not self._ready.is_set():
            batch.fail("not connected to RabbitMQ")
            return
        with self._lock:
            batch.first_tag = self._next_tag + 1
            self._next_tag += batch.size
            self._open.append(batch)
        # One properties object for the batch: basic_publish encodes it before returning.
        props = pika.BasicProperties(delivery_mode=2)
        try:
            for msg in messages:
                props.content_type = msg.content_type
                props.message_id = msg.message_id
                props.headers = msg.headers
                channel.basic_publish(msg.exchange, msg.routing_key, msg.body, props)
        except AMQPError as exc:
            self._fail_pending(str(exc))

    # -- public API (any thread) -------------------------------------------------------------
    def publish_batch(self, messages: Sequence[OutgoingMessage]) -> BatchConfirmation:
        """Schedule `messages`; the confirmation resolves as RabbitMQ confirms them."""
        return self._schedule(messages, BatchConfirmation(len(messages)))

    def publish_async(self, messages: Sequence[OutgoingMessage]) -> list[Future[None]]:
        """Schedule `messages`; each future resolves when RabbitMQ confirms (or fails)."""
        futures: list[Future[None]] = [Future() for _ in messages]
        self._schedule(messages, BatchConfirmation(len(messages), futures))
        return futures

    def _schedule(
        self, messages: Sequence[OutgoingMessage], batch: BatchConfirmation
    ) -> BatchConfirmation:
        if not messages:
            return batch
        with self._loop_lock:
            conn = self._conn
            if conn is not None and self._ready.is_set():
                conn.ioloop.add_callback_threadsafe(partial(self._publish_now, messages, batch))
                return batch
        batch.fail("not connected to RabbitMQ")
        return batch

    def publish_confirmed(
        self, messages: Sequence[OutgoingMessage], timeout: float = 10.0
    ) -> list[bool]:
        """Publish and wait; returns, per message, whether RabbitMQ confirmed it."""
        return self.publish_batch(messages).wait(timeout)
