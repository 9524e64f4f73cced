"""RabbitMQ: a manual-ack consumer, and the confirming publisher (see `amqp_publisher`)."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

import pika
from pika.exceptions import AMQPError

from msm_common.adapters import amqp_topology
from msm_common.adapters.amqp_publisher import (
    RECONNECT,
    BatchConfirmation,
    ConfirmingPublisher,
    OutgoingMessage,
    PublishError,
)

log = logging.getLogger(__name__)
__all__ = [
    "BatchConfirmation",
    "ConfirmingPublisher",
    "Consumer",
    "OutgoingMessage",
    "PoisonMessage",
    "PublishError",
]


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
        failures = 0  # in a row; the shared reconnect policy (msm_common.retry) spaces them
        while not self._stopping.is_set():
            try:
                self._consume()
                failures = 0
            except AMQPError as exc:
                self.connected.clear()
                if self._stopping.is_set():
                    break
                failures += 1
                delay = RECONNECT.delay(failures)
                log.warning("RabbitMQ consumer disconnected (%s); retrying in %.1fs", exc, delay)
                self._stopping.wait(delay)

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
