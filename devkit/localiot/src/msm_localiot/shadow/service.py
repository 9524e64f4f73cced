"""The shadow use cases both sides call: load, apply the rules, store, and say what to publish.

An MQTT request is answered on its own `/accepted` or `/rejected` topic; an HTTP request gets its
answer in the response. Either way an accepted update also goes out on `/update/accepted`,
`/update/documents` and, when AWS would send one, `/update/delta` (so an HTTP update that changes
`desired` reaches the device), and an accepted delete on `/delete/accepted`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from msm_common import topics

from .engine import apply_delete, apply_get, apply_update
from .model import Deleted, Got, JsonObject, Rejected, Shadow, Updated
from .store import ShadowKey, ShadowStore

log = logging.getLogger(__name__)

Operation = Literal["update", "get", "delete"]
Result = Updated | Got | Deleted | Rejected
INTERNAL_FAILURE = "Internal service failure"


@dataclass(frozen=True)
class Outgoing:
    """One MQTT message to publish."""

    topic: str
    payload: JsonObject


class ShadowService:
    def __init__(
        self, store: ShadowStore, clock: Callable[[], float], *, attempts: int = 8
    ) -> None:
        self._store = store
        self._clock = clock
        self._attempts = attempts

    def handle(self, key: ShadowKey, op: Operation, payload: bytes) -> Result:
        if op == "get":
            stored = self._store.load(key)
            return apply_get(
                stored.shadow if stored else None, payload, self._now(), key.display_name
            )
        for _ in range(self._attempts):
            stored = self._store.load(key)
            current = stored.shadow if stored else None
            now = self._now()
            result: Updated | Deleted | Rejected
            if op == "update":
                result = apply_update(current, payload, now)
            else:
                result = apply_delete(current, payload, now, key.display_name)
            if isinstance(result, Rejected):
                return result
            if self._store.save(key, result.shadow, stored.revision if stored else None):
                return result
        log.warning("shadow %s: gave up after %d concurrent writes", key.id, self._attempts)
        return Rejected(500, INTERNAL_FAILURE, self._now())

    def update(self, key: ShadowKey, payload: bytes) -> Result:
        return self.handle(key, "update", payload)

    def get(self, key: ShadowKey, payload: bytes = b"") -> Result:
        return self.handle(key, "get", payload)

    def delete(self, key: ShadowKey, payload: bytes = b"") -> Result:
        return self.handle(key, "delete", payload)

    def named_shadows(self, thing: str) -> list[str]:
        return self._store.named_shadows(thing)

    def current(self, key: ShadowKey) -> Shadow | None:
        stored = self._store.load(key)
        return stored.shadow if stored and stored.shadow.exists else None

    def _now(self) -> int:
        return int(self._clock())


def messages_for(
    key: ShadowKey, op: Operation, result: Result, *, via_mqtt: bool
) -> list[Outgoing]:
    """What goes out on MQTT after a request: the reply (MQTT requests only) and the events."""

    def topic(operation: str, suffix: str) -> str:
        return topics.shadow(key.thing, operation, suffix, name=key.name)

    if isinstance(result, Rejected):
        return [Outgoing(topic(op, "rejected"), result.payload())] if via_mqtt else []
    if isinstance(result, Got):
        return [Outgoing(topic("get", "accepted"), result.document)] if via_mqtt else []
    if isinstance(result, Deleted):
        return [Outgoing(topic("delete", "accepted"), result.accepted)]
    out = [
        Outgoing(topic("update", "accepted"), result.accepted),
        Outgoing(topic("update", "documents"), result.documents),
    ]
    if result.delta is not None:
        out.append(Outgoing(topic("update", "delta"), result.delta))
    return out
