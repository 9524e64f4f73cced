"""Command requests onto `msm.commands`, started lazily so nothing runs before gunicorn forks."""

from __future__ import annotations

import logging
import threading

import pika
from msm_common.adapters import amqp_topology
from msm_common.adapters.amqp import ConfirmingPublisher, OutgoingMessage
from pika.exceptions import AMQPError

log = logging.getLogger(__name__)


class AmqpCommandPublisher:
    """One confirming publisher per worker process, created on first use under a lock."""

    def __init__(self, url: str, *, timeout_s: float = 5.0) -> None:
        self._url = url
        self._timeout = timeout_s
        self._lock = threading.Lock()
        self._publisher: ConfirmingPublisher | None = None

    def _declare_queue(self) -> None:
        # The commander's queue exists before the first request, so none is ever unroutable.
        conn = pika.BlockingConnection(pika.URLParameters(self._url))
        try:
            amqp_topology.declare(conn.channel(), (amqp_topology.COMMAND_REQUESTS,))
        finally:
            conn.close()

    def _get(self) -> ConfirmingPublisher | None:
        if self._publisher is not None:
            return self._publisher
        with self._lock:
            if self._publisher is None:
                try:
                    self._declare_queue()
                except AMQPError as exc:
                    log.warning("RabbitMQ unavailable, command requests cannot be queued: %s", exc)
                    return None
                self._publisher = ConfirmingPublisher(self._url, name="msm-api").start(
                    timeout=self._timeout
                )
            return self._publisher

    def publish(self, body: bytes, message_id: str) -> bool:
        publisher = self._get()
        if publisher is None:
            return False
        message = OutgoingMessage(
            exchange=amqp_topology.COMMANDS_EXCHANGE,
            routing_key=amqp_topology.COMMAND_REQUEST_KEY,
            body=body,
            message_id=message_id,
            content_type="application/json",
        )
        return publisher.publish_confirmed([message], timeout=self._timeout)[0]

    def ready(self) -> bool:
        publisher = self._get()
        return publisher is not None and publisher.ready

    def close(self) -> None:
        with self._lock:
            if self._publisher is not None:
                self._publisher.close()
                self._publisher = None
