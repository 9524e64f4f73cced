"""RabbitMQ topology: exchanges, queues and dead-lettering, declared the same way by everyone."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

EVENTS_EXCHANGE = "msm.events"
COMMANDS_EXCHANGE = "msm.commands"
COMMAND_REQUEST_KEY = "command.request"
COMMAND_REQUESTS_QUEUE = "msm.commands.requests"
DEAD_LETTER_EXCHANGE = "msm.dlx"
DEAD_LETTER_QUEUE = "msm.dead-letter"

EXCHANGES: tuple[tuple[str, str], ...] = (
    (EVENTS_EXCHANGE, "topic"),
    (COMMANDS_EXCHANGE, "direct"),
    (DEAD_LETTER_EXCHANGE, "topic"),
)


@dataclass(frozen=True)
class QueueSpec:
    """A durable queue, its bindings, and where its poison messages go."""

    name: str
    exchange: str
    routing_keys: tuple[str, ...]
    quorum: bool = True
    delivery_limit: int = 5
    dead_letter: bool = True
    extra_arguments: dict[str, Any] = field(default_factory=dict)

    def arguments(self) -> dict[str, Any]:
        args: dict[str, Any] = dict(self.extra_arguments)
        if self.quorum:
            args["x-queue-type"] = "quorum"
            args["x-delivery-limit"] = self.delivery_limit
        if self.dead_letter:
            args["x-dead-letter-exchange"] = DEAD_LETTER_EXCHANGE
            args["x-dead-letter-routing-key"] = f"dead.{self.name}"
        return args


DEAD_LETTERS = QueueSpec(
    DEAD_LETTER_QUEUE, DEAD_LETTER_EXCHANGE, ("#",), quorum=True, dead_letter=False
)
COMMAND_REQUESTS = QueueSpec(COMMAND_REQUESTS_QUEUE, COMMANDS_EXCHANGE, (COMMAND_REQUEST_KEY,))


def declare(channel: Any, queues: tuple[QueueSpec, ...] = ()) -> None:
    """Declare the exchanges, the dead-letter queue and `queues` on a pika blocking channel."""
    for name, kind in EXCHANGES:
        channel.exchange_declare(exchange=name, exchange_type=kind, durable=True)
    for spec in (DEAD_LETTERS, *queues):
        channel.queue_declare(queue=spec.name, durable=True, arguments=spec.arguments())
        for key in spec.routing_keys:
            channel.queue_bind(queue=spec.name, exchange=spec.exchange, routing_key=key)
