"""The one thing every part of localiot needs from the broker: publish a message."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Protocol


class Publisher(Protocol):
    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None: ...


class Message(Protocol):
    @property
    def topic(self) -> str: ...

    @property
    def payload(self) -> dict[str, Any]: ...


def to_json(document: object) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def publish_all(publisher: Publisher, messages: Iterable[Message]) -> None:
    for message in messages:
        publisher.publish(message.topic, to_json(message.payload))
