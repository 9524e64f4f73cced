"""Consume MSM's events from RabbitMQ: a durable queue of your own, deduplicated, redelivery-safe.

    python examples/consume_events.py --amqp-url amqp://guest:guest@127.0.0.1:5672/%2F \\
        --queue billing.msm-events --bind 'telemetry.received.*' --bind 'command.status.*'

Needs only `pika`. What it shows (see the README, "Consuming MSM's events"):
- a durable quorum queue of your own, bound to the `msm.events` topic exchange by routing key
  (`{type without msm.}.{device_uuid}`, e.g. `command.status.*`, `#` for everything);
- manual acks after the work is done, so a crash means redelivery, never loss;
- deduplication by the CloudEvents `id` (events are delivered at least once; a republished
  event keeps its id). Here an in-memory window; in production a unique index in your store;
- a failing handler is retried by RabbitMQ (nack + requeue) up to the queue's delivery limit,
  then the message is dead-lettered to `msm.dlx` (routing key `dead.{queue}`), as is a message
  that is not a CloudEvent at all. Bind a queue of yours to `msm.dlx` to keep them.
Each handled event is printed as one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import OrderedDict
from typing import Any

import pika

EVENTS_EXCHANGE = "msm.events"
DEAD_LETTER_EXCHANGE = "msm.dlx"


class SeenIds:
    """The most recent `size` event ids (a bounded window; use a unique index in production)."""

    def __init__(self, size: int = 100_000) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._size = size

    def add(self, event_id: str) -> bool:
        """True if `event_id` is new."""
        if event_id in self._ids:
            self._ids.move_to_end(event_id)
            return False
        self._ids[event_id] = None
        if len(self._ids) > self._size:
            self._ids.popitem(last=False)
        return True

    def discard(self, event_id: str) -> None:
        self._ids.pop(event_id, None)


def declare(channel: Any, queue: str, bindings: list[str], delivery_limit: int) -> None:
    channel.exchange_declare(EVENTS_EXCHANGE, exchange_type="topic", durable=True)
    channel.exchange_declare(DEAD_LETTER_EXCHANGE, exchange_type="topic", durable=True)
    channel.queue_declare(
        queue,
        durable=True,
        arguments={
            "x-queue-type": "quorum",  # replicated, survives a broker restart
            "x-delivery-limit": delivery_limit,  # redeliveries before dead-lettering
            "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
            "x-dead-letter-routing-key": f"dead.{queue}",
        },
    )
    for key in bindings:
        channel.queue_bind(queue, EVENTS_EXCHANGE, routing_key=key)


def handle(event: dict[str, Any]) -> dict[str, Any]:
    """Your work goes here; raise to have the event redelivered."""
    return {"id": event["id"], "type": event["type"], "subject": event.get("subject")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--amqp-url", default="amqp://guest:guest@127.0.0.1:5672/%2F")
    parser.add_argument("--queue", required=True, help="your durable queue's name")
    parser.add_argument("--bind", action="append", default=[], help="routing key (repeatable)")
    parser.add_argument("--delivery-limit", type=int, default=5)
    parser.add_argument("--max-events", type=int, default=0, help="stop after N (0: never)")
    parser.add_argument("--idle-timeout", type=float, default=0, help="stop when idle (s)")
    args = parser.parse_args(argv)

    connection = pika.BlockingConnection(pika.URLParameters(args.amqp_url))
    channel = connection.channel()
    declare(channel, args.queue, args.bind or ["#"], args.delivery_limit)
    channel.basic_qos(prefetch_count=50)
    print(json.dumps({"ready": args.queue}), flush=True)

    seen, handled = SeenIds(), 0
    timeout = args.idle_timeout or None
    for method, _properties, body in channel.consume(args.queue, inactivity_timeout=timeout):
        if method is None:  # idle for --idle-timeout seconds
            break
        try:
            event = json.loads(body)
            event_id = event["id"]
        except (ValueError, KeyError, TypeError):
            channel.basic_nack(method.delivery_tag, requeue=False)  # not an event: dead-letter
            continue
        if not seen.add(event_id):
            channel.basic_ack(method.delivery_tag)  # a duplicate: already handled
            continue
        try:
            result = handle(event)
        except Exception:  # noqa: BLE001 (any failure of your work: let RabbitMQ redeliver)
            seen.discard(event_id)  # not handled after all
            channel.basic_nack(method.delivery_tag, requeue=True)
            continue
        print(json.dumps({**result, "redelivered": method.redelivered}), flush=True)
        channel.basic_ack(method.delivery_tag)
        handled += 1
        if args.max_events and handled >= args.max_events:
            break
    channel.cancel()
    connection.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
