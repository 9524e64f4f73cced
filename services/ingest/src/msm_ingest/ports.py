"""The small interfaces between the pipeline and the world (adapters implement them)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from msm_ingest.domain.devices import DeviceWrite
from msm_ingest.domain.events import OutEvent
from msm_ingest.domain.outbox import OutboxEntry

Document = dict[str, Any]


@dataclass(slots=True)
class Delivery:
    """One message from a source; call `ack` once its effect is durable (never before)."""

    topic: str
    payload: bytes
    received_at: datetime
    ack: Callable[[], None]
    source: str = "mqtt"


Sink = Callable[[Sequence[Delivery]], None]  # a burst: what a source read in one go


class Source(Protocol):
    """Where messages come from (MQTT, SQS). Everything after it is the same code."""

    name: str
    # False: the source's network thread calls `sink`, which must then never wait (MQTT: a
    # waiting sink stalls keep-alive); True: `sink` may block, that is the back-pressure (SQS).
    sink_may_block: bool

    def start(self, sink: Sink) -> None:
        """Begin delivering bursts into `sink` (called as `sink_may_block` says)."""

    def pause(self) -> None:
        """Deliver nothing more; unacknowledged messages will come again later."""

    def flush_acks(self) -> None:
        """Send acknowledgements gathered from `Delivery.ack` calls (sources may batch them)."""

    def stop(self) -> None: ...

    def ready(self) -> bool: ...

    @property
    def disconnects(self) -> int:
        """Connections lost since start (0 for a source without a connection of its own)."""


class Confirmation(Protocol):
    def wait(self, timeout: float) -> list[bool]:
        """Per event, whether the broker confirmed it (False: nacked, timed out, or lost)."""

    @property
    def done(self) -> bool:
        """Every event has its answer (confirmed, nacked, or lost with the connection)."""


class EventPublisher(Protocol):
    def start(self, timeout: float) -> object:
        """Connect in the background, waiting up to `timeout` s for the first connection."""

    @property
    def ready(self) -> bool: ...

    def publish(self, events: Sequence[OutEvent]) -> Confirmation:
        """Send `events` without waiting; the confirmation resolves as the broker confirms."""

    def close(self) -> None: ...


class Store(Protocol):
    """Durable state: telemetry rows, devices, quarantine, and the per-batch event outbox."""

    def prepare(self, retention_days: int) -> None:
        """Create what the store needs (indexes, TTL); idempotent; raises while unreachable."""

    def insert_readings(self, docs: Sequence[Document]) -> list[bool]:
        """Insert unordered; per document, True if inserted, False if its `_id` existed."""

    def update_devices(self, writes: Sequence[DeviceWrite]) -> None:
        """Upsert each device in one bulk write."""

    def apply(self, write: DeviceWrite, *, upsert: bool) -> bool:
        """Apply one guarded device write; False when the guard did not match (stale)."""

    def quarantine(self, records: Sequence[Document]) -> None: ...

    def known_devices(self, device_uuids: Iterable[str]) -> set[str]:
        """Which of `device_uuids` are registered and not decommissioned."""

    def readings(self, reading_ids: Sequence[str]) -> list[Document]:
        """The telemetry rows with these ids (those that exist)."""

    def outbox_add(self, entry: OutboxEntry) -> None:
        """Record a batch's unconfirmed events (idempotent per batch id)."""

    def outbox_due(self, older_than: datetime, not_owner: str, limit: int) -> list[OutboxEntry]:
        """Entries created before `older_than` by any process but `not_owner`, oldest first."""

    def outbox_remove(self, batch_ids: Sequence[str]) -> None: ...

    def outbox_count(self, cap: int) -> int:
        """Outbox entries, counted up to `cap`."""

    def ping(self) -> bool: ...


class ShadowClient(Protocol):
    def update_reported(self, thing: str, reported: Document) -> None:
        """Merge `reported` into the thing's classic shadow; raise ShadowError on failure."""


class StoreUnavailable(RuntimeError):
    """The store could not carry out a read or write now; the caller retries later."""


class ShadowError(RuntimeError):
    """A shadow update failed (endpoint down, thing unknown, throttled)."""
