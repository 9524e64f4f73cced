"""RabbitMQ: a publisher with asynchronous confirms and reconnect, and a manual-ack consumer.

The publisher runs pika's SelectConnection on its own thread so that many messages can be in
flight while their confirms arrive (a blocking publisher waits for each confirm: ~1.5k msg/s).
Callers get a Future per message and wait for the batch.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, wait
from dataclasses import dataclass
from typing import Any

import pika
from pika.adapters.select_connection import SelectConnection
from pika.exceptions import AMQPError

from msm_common.adapters import amqp_topology

log = logging.getLogger(__name__)


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


class ConfirmingPublisher:
    """Thread-safe publisher: persistent messages, publisher confirms, reconnect with backoff."""

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
        self._pending: dict[int, Future[None]] = {}
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
        delay = 0.5
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
            delay = 0.5 if self._connected_once else min(delay * 2, 10.0)
            time.sleep(delay)

    # -- pika callbacks (publisher thread) -----------------------------------------------------
    def _on_open(self, conn: SelectConnection) -> None:
        conn.channel(on_open_callback=self._on_channel_open)

    def _on_open_error(self, conn: SelectConnection, err: BaseException) -> None:
        log.warning("RabbitMQ connection failed: %s", err)
        conn.ioloop.stop()

    def _on_closed(self, conn: SelectConnection, reason: BaseException) -> None:
        self._ready.clear()
        self._fail_pending(PublishError(f"connection closed: {reason}"))
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
        self._fail_pending(PublishError(f"channel closed: {reason}"))
        if self._conn is not None and not (self._conn.is_closing or self._conn.is_closed):
            self._conn.close()

    def _on_confirm(self, frame: Any) -> None:
        method = frame.method
        ok = isinstance(method, pika.spec.Basic.Ack)
        with self._lock:
            tags = (
                [t for t in self._pending if t <= method.delivery_tag]
                if method.multiple
                else [method.delivery_tag]
            )
            futures = [self._pending.pop(t) for t in tags if t in self._pending]
        for fut in futures:
            if ok:
                fut.set_result(None)
            else:
                fut.set_exception(PublishError("message nacked by broker"))

    def _fail_pending(self, exc: Exception) -> None:
        with self._lock:
            futures = list(self._pending.values())
            self._pending.clear()
        for fut in futures:
            if not fut.done():
                fut.set_exception(exc)

    def _publish_now(
        self, messages: Sequence[OutgoingMessage], futures: list[Future[None]]
    ) -> None:
        channel = self._channel
        if channel is None or not channel.is_open or not self._ready.is_set():
            for fut in futures:
                fut.set_exception(PublishError("not connected to RabbitMQ"))
            return
        for msg, fut in zip(messages, futures, strict=True):
            props = pika.BasicProperties(
                delivery_mode=2,
                content_type=msg.content_type,
                message_id=msg.message_id,
                headers=msg.headers,
            )
            with self._lock:
                self._next_tag += 1
                self._pending[self._next_tag] = fut
            try:
                channel.basic_publish(msg.exchange, msg.routing_key, msg.body, props)
            except AMQPError as exc:
                self._fail_pending(PublishError(str(exc)))
                return

    # -- public API (any thread) -------------------------------------------------------------
    def publish_async(self, messages: Sequence[OutgoingMessage]) -> list[Future[None]]:
        """Schedule `messages`; each future resolves when RabbitMQ confirms (or fails)."""
        futures: list[Future[None]] = [Future() for _ in messages]
        with self._loop_lock:
            conn = self._conn
            if conn is not None and self._ready.is_set():
                conn.ioloop.add_callback_threadsafe(lambda: self._publish_now(messages, futures))
                return futures
        for fut in futures:
            fut.set_exception(PublishError("not connected to RabbitMQ"))
        return futures

    def publish_confirmed(
        self, messages: Sequence[OutgoingMessage], timeout: float = 10.0
    ) -> list[bool]:
        """Publish and wait; returns, per message, whether RabbitMQ confirmed it."""
        futures = self.publish_async(messages)
        wait(futures, timeout=timeout)
        return [f.done() and f.exception() is None for f in futures]


class PoisonMessage(Exception):
    """Raised by a handler for a message that can never succeed: it is dead-lettered at once."""


Handler = Callable[[Any, bytes, pika.BasicProperties], None]


class Consumer:
    """Blocking consumer: manual acks, prefetch, dead-lettering, reconnect. Run it on a thread."""

    def __init__(
        self,
        url: str,
        queues: Iterable[tuple[amqp_topology.QueueSpec, Handler]],
        *,
        prefetch: int = 50,
        name: str = "msm",
    ) -> None:
        self._params = pika.URLParameters(url)
        self._params.client_properties = {"connection_name": f"{name}-consumer"}
        self._queues = list(queues)
        self._prefetch = prefetch
        self._stopping = threading.Event()
        self._conn: pika.BlockingConnection | None = None
        self._channel: Any = None
        self.connected = threading.Event()

    def run(self) -> None:
        delay = 0.5
        while not self._stopping.is_set():
            try:
                self._consume()
                delay = 0.5
            except AMQPError as exc:
                self.connected.clear()
                if self._stopping.is_set():
                    break
                log.warning("RabbitMQ consumer disconnected (%s); retrying in %.1fs", exc, delay)
                self._stopping.wait(delay)
                delay = min(delay * 2, 10.0)

    def _consume(self) -> None:
        self._conn = pika.BlockingConnection(self._params)
        channel = self._channel = self._conn.channel()
        amqp_topology.declare(channel, tuple(spec for spec, _ in self._queues))
        channel.basic_qos(prefetch_count=self._prefetch)
        for spec, handler in self._queues:
            channel.basic_consume(spec.name, self._wrap(handler), auto_ack=False)
        self.connected.set()
        if self._stopping.is_set():
            self._conn.close()
            return
        channel.start_consuming()
        if self._conn.is_open:
            self._conn.close()

    def _wrap(self, handler: Handler) -> Callable[..., None]:
        def on_message(channel: Any, method: Any, props: pika.BasicProperties, body: bytes) -> None:
            try:
                handler(method, body, props)
            except PoisonMessage as exc:
                log.warning("dead-lettering message %s: %s", props.message_id, exc)
                channel.basic_reject(method.delivery_tag, requeue=False)
                return
            except Exception:
                # Requeued; the quorum queue's delivery limit dead-letters a message that
                # keeps failing, so a poison message cannot loop forever.
                log.exception("handler failed for message %s; requeueing", props.message_id)
                self._stopping.wait(0.2)
                channel.basic_nack(method.delivery_tag, requeue=True)
                return
            channel.basic_ack(method.delivery_tag)

        return on_message

    def stop(self) -> None:
        """Stop consuming after the current message; safe from any thread."""
        self._stopping.set()
        conn, channel = self._conn, self._channel
        if conn is not None and channel is not None and conn.is_open:
            with contextlib.suppress(AMQPError):
                conn.add_callback_threadsafe(channel.stop_consuming)
