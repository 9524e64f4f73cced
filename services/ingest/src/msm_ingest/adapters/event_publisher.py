"""Events to RabbitMQ `msm.events` through msm_common's confirming publisher (the one publisher:
persistent messages, asynchronous publisher confirms, reconnect with backoff)."""

from __future__ import annotations

from collections.abc import Sequence

from msm_common.adapters.amqp import BatchConfirmation, ConfirmingPublisher, OutgoingMessage
from msm_common.adapters.amqp_topology import EVENTS_EXCHANGE

from msm_ingest.domain.events import OutEvent

CONTENT_TYPE = "application/cloudevents+json"


class AmqpEventPublisher:
    """OutEvents in, one confirmation per batch out (thread-safe)."""

    def __init__(self, url: str, *, exchange: str = EVENTS_EXCHANGE, name: str = "msm") -> None:
        self._exchange = exchange
        self._publisher = ConfirmingPublisher(url, name=f"{name}-events")

    def start(self, timeout: float = 10.0) -> AmqpEventPublisher:
        self._publisher.start(timeout)
        return self

    @property
    def ready(self) -> bool:
        return self._publisher.ready

    def wait_ready(self, timeout: float) -> bool:
        return self._publisher.wait_ready(timeout)

    def publish(self, events: Sequence[OutEvent]) -> BatchConfirmation:
        exchange = self._exchange
        return self._publisher.publish_batch(
            [
                OutgoingMessage(exchange, e.routing_key, e.body, e.event_id, CONTENT_TYPE)
                for e in events
            ]
        )

    def close(self) -> None:
        self._publisher.close()
