"""What the services publish to msm.events, read from a queue of the test's own."""

from __future__ import annotations

import contextlib
from typing import Any

import orjson
import pika
from msm_common.adapters.amqp_topology import EVENTS_EXCHANGE

from support.services import unique
from support.waiting import wait_for


class EventTap:
    """A queue of our own bound to msm.events with `keys`; collects the events published."""

    def __init__(self, amqp_url: str, keys: list[str]) -> None:
        self.conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
        self.channel = self.conn.channel()
        self.channel.exchange_declare(EVENTS_EXCHANGE, "topic", durable=True)
        self.queue = unique("t-events")
        self.channel.queue_declare(self.queue, exclusive=True, auto_delete=True)
        for key in keys:
            self.channel.queue_bind(self.queue, EVENTS_EXCHANGE, routing_key=key)
        self.events: list[dict[str, Any]] = []
        self.routing_keys: list[str] = []

    def drain(self) -> list[dict[str, Any]]:
        """Every event received so far."""
        while True:
            method, _props, body = self.channel.basic_get(self.queue, auto_ack=True)
            if method is None:
                return self.events
            self.events.append(orjson.loads(body))
            self.routing_keys.append(method.routing_key)

    def wait(self, count: int, timeout: float = 15.0) -> list[dict[str, Any]]:
        """The events once there are `count` (or all there are after `timeout`)."""
        with contextlib.suppress(TimeoutError):
            wait_for(f"{count} events", lambda: len(self.drain()) >= count, timeout, 0.1)
        return self.events

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()


def reading_ids(events: list[dict[str, Any]]) -> list[str]:
    """The readings that telemetry events announce."""
    return [r["reading_id"] for e in events for r in e["data"]["readings"]]
