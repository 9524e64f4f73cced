"""`device.provisioned` events on `msm.events`, through an outbox so none is lost.

The event is stored first (`provisioner_outbox`), then published with an asynchronous confirm.
Confirmed ids are marked by `flush()`; `flush()` also republishes what stayed unconfirmed (a
broker outage, a crash). Event ids are deterministic, so consumers drop a repeat.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from datetime import datetime, timedelta
from typing import Any, Final, Protocol

from msm_common.adapters.amqp import OutgoingMessage
from msm_common.adapters.amqp_topology import EVENTS_EXCHANGE
from msm_common.contracts.events import CloudEvent
from pymongo import ASCENDING, IndexModel
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

log = logging.getLogger(__name__)
OUTBOX: Final = "provisioner_outbox"
RETRY_AFTER: Final = timedelta(seconds=5)
KEEP_PUBLISHED_S: Final = 7 * 86400
BATCH: Final = 500


class AmqpPublisher(Protocol):
    """What the outbox needs of msm_common's ConfirmingPublisher."""

    @property
    def ready(self) -> bool: ...

    def publish_async(self, messages: Sequence[OutgoingMessage]) -> list[Future[None]]: ...

    def close(self) -> None: ...


class Outbox:
    def __init__(
        self,
        db: Database[dict[str, Any]],
        publisher: AmqpPublisher,
        clock: Callable[[], datetime],
    ) -> None:
        self._coll = db[OUTBOX]
        self._publisher = publisher
        self._clock = clock
        self._confirmed: list[str] = []
        self._lock = threading.Lock()

    def ensure_indexes(self) -> None:
        self._coll.create_indexes(
            [
                IndexModel(
                    [("published_at", ASCENDING), ("created_at", ASCENDING)], name="pending"
                ),
                IndexModel(
                    [("published_at", ASCENDING)],
                    name="retention",
                    expireAfterSeconds=KEEP_PUBLISHED_S,
                ),
            ]
        )

    @property
    def ready(self) -> bool:
        return self._publisher.ready

    def publish(self, event: CloudEvent) -> None:
        """Store the event, then send it; a confirm later marks it published."""
        doc = {
            "_id": event.id,
            "routing_key": event.routing_key,
            "body": event.to_json(),
            "created_at": self._clock(),
            "published_at": None,
        }
        try:
            self._coll.insert_one(doc)
        except DuplicateKeyError:
            return  # the same event (same device, same certificate) is already on its way
        self._send([doc])

    def flush(self) -> int:
        """Mark confirmed events, resend stale unconfirmed ones; how many were resent."""
        with self._lock:
            confirmed, self._confirmed = self._confirmed, []
        if confirmed:
            self._coll.update_many(
                {"_id": {"$in": confirmed}}, {"$set": {"published_at": self._clock()}}
            )
        if not self._publisher.ready:
            return 0
        stale = list(
            self._coll.find(
                {"published_at": None, "created_at": {"$lte": self._clock() - RETRY_AFTER}}
            )
            .sort("created_at", ASCENDING)
            .limit(BATCH)
        )
        stale = [d for d in stale if d["_id"] not in set(confirmed)]
        if stale:
            log.info("republishing %d unconfirmed provisioning events", len(stale))
            self._send(stale)
        return len(stale)

    def _send(self, docs: list[dict[str, Any]]) -> None:
        messages = [
            OutgoingMessage(
                EVENTS_EXCHANGE, d["routing_key"], bytes(d["body"]), message_id=d["_id"]
            )
            for d in docs
        ]
        for doc, future in zip(docs, self._publisher.publish_async(messages), strict=True):
            future.add_done_callback(self._on_done(doc["_id"]))

    def _on_done(self, event_id: str) -> Callable[[Future[None]], None]:
        def done(future: Future[None]) -> None:
            if future.exception() is None:
                with self._lock:
                    self._confirmed.append(event_id)

        return done

    def close(self) -> None:
        self._publisher.close()
