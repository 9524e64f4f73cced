"""Small fakes of ingest's own interfaces (Store, EventPublisher, ShadowClient) and helpers."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from msm_ingest.batch_writer import BatchWriter
from msm_ingest.domain.device_state import DeviceStateCoalescer
from msm_ingest.domain.devices import DeviceWrite
from msm_ingest.domain.events import OutEvent
from msm_ingest.domain.outbox import OutboxEntry
from msm_ingest.metrics import IngestMetrics
from msm_ingest.pipeline import Pipeline, PipelineConfig
from msm_ingest.ports import Delivery, StoreUnavailable
from msm_ingest.recovery import Recovery

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


class Acks:
    """Counts `Delivery.ack` calls per delivery."""

    def __init__(self) -> None:
        self.count: dict[int, int] = {}
        self.lock = threading.Lock()

    def delivery(self, topic: str, payload: bytes, received_at: datetime = NOW) -> Delivery:
        key = len(self.count)
        self.count[key] = 0

        def ack() -> None:
            with self.lock:
                self.count[key] += 1

        return Delivery(topic, payload, received_at, ack, "test")

    @property
    def acked(self) -> int:
        return sum(1 for n in self.count.values() if n)

    def twice(self) -> int:
        return sum(1 for n in self.count.values() if n > 1)


class FakeStore:
    """In-memory Store; `failures[method] = n` makes the next n calls raise StoreUnavailable."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}
        self.device_writes: list[DeviceWrite] = []
        self.applied: list[tuple[DeviceWrite, bool]] = []
        self.prepared: list[int] = []
        self.apply_result = True
        self.rejected: list[dict[str, Any]] = []
        self.outbox: dict[str, OutboxEntry] = {}
        self.known: set[str] = set()
        self.failures: dict[str, int] = {}
        self.insert_sizes: list[int] = []
        self.calls = 0

    def _maybe_fail(self, method: str) -> None:
        self.calls += 1
        if self.failures.get(method, 0) > 0:
            self.failures[method] -= 1
            raise StoreUnavailable(f"{method}: injected")

    def prepare(self, retention_days: int) -> None:
        self._maybe_fail("prepare")
        self.prepared.append(retention_days)

    def insert_readings(self, docs: Sequence[dict[str, Any]]) -> list[bool]:
        self._maybe_fail("insert_readings")
        self.insert_sizes.append(len(docs))
        flags = []
        for doc in docs:
            flags.append(doc["_id"] not in self.rows)
            self.rows.setdefault(doc["_id"], dict(doc))
        return flags

    def update_devices(self, writes: Sequence[DeviceWrite]) -> None:
        self._maybe_fail("update_devices")
        self.device_writes.extend(writes)

    def apply(self, write: DeviceWrite, *, upsert: bool) -> bool:
        self._maybe_fail("apply")
        self.applied.append((write, upsert))
        return self.apply_result

    def quarantine(self, records: Sequence[dict[str, Any]]) -> None:
        self._maybe_fail("quarantine")
        self.rejected.extend(records)

    def known_devices(self, device_uuids: Iterable[str]) -> set[str]:
        self._maybe_fail("known_devices")
        return set(device_uuids) & self.known

    def readings(self, reading_ids: Sequence[str]) -> list[dict[str, Any]]:
        return [dict(self.rows[rid]) for rid in reading_ids if rid in self.rows]

    def outbox_add(self, entry: OutboxEntry) -> None:
        self._maybe_fail("outbox_add")
        self.outbox.setdefault(entry.batch_id, entry)

    def outbox_due(self, older_than: datetime, not_owner: str, limit: int) -> list[OutboxEntry]:
        due = [
            e for e in self.outbox.values() if e.created_at < older_than and e.owner != not_owner
        ]
        return sorted(due, key=lambda e: e.created_at)[:limit]

    def outbox_remove(self, batch_ids: Sequence[str]) -> None:
        self._maybe_fail("outbox_remove")
        for batch_id in batch_ids:
            self.outbox.pop(batch_id, None)

    def outbox_count(self, cap: int) -> int:
        return min(cap, len(self.outbox))

    def outbox_events(self) -> list[OutEvent]:
        """The non-telemetry events held in the outbox."""
        return [e for entry in self.outbox.values() for e in entry.others]

    def outbox_reading_ids(self) -> list[str]:
        return [rid for entry in self.outbox.values() for rid in entry.reading_ids]

    def ping(self) -> bool:
        return True


class FakeConfirmation:
    def __init__(self, results: list[bool], done: bool = True) -> None:
        self.results = results
        self.done = done

    def wait(self, timeout: float) -> list[bool]:
        return list(self.results)


class FakePublisher:
    """Confirms everything while `ready`; fails everything otherwise. Records what it sent."""

    def __init__(self, ready: bool = True) -> None:
        self.ready = ready
        self.sent: list[OutEvent] = []
        self.lock = threading.Lock()

    def start(self, timeout: float) -> FakePublisher:
        return self

    def publish(self, events: Sequence[OutEvent]) -> FakeConfirmation:
        with self.lock:
            if self.ready:
                self.sent.extend(events)
            return FakeConfirmation([self.ready] * len(events))

    def close(self) -> None:
        return None

    def ids(self, routing_prefix: str = "") -> list[str]:
        return [e.event_id for e in self.sent if e.routing_key.startswith(routing_prefix)]

    def reading_ids(self, routing_prefix: str = "telemetry.received.") -> list[str]:
        """The readings announced by the telemetry events sent (one event per device sample)."""
        return [
            r["reading_id"]
            for e in self.sent
            if e.routing_key.startswith(routing_prefix)
            for r in orjson.loads(e.body)["data"]["readings"]
        ]


class FakeShadowClient:
    def __init__(self) -> None:
        self.updates: list[tuple[str, dict[str, Any]]] = []

    def update_reported(self, thing: str, reported: dict[str, Any]) -> None:
        self.updates.append((thing, reported))


class Clock:
    """Monotonic seconds a test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_pipeline(
    store: Any,
    publisher: Any,
    *,
    shadow: Any = None,
    interval_s: float = 60.0,
    mono: Any = None,
    owner: str = "test-owner",
    **config: Any,
) -> Any:
    metrics = IngestMetrics()
    writer = BatchWriter(
        store,
        publisher,
        metrics,
        clock=lambda: NOW,
        mono=mono or time.monotonic,
        shadow=shadow,
        device_state=DeviceStateCoalescer(interval_s),
        owner=owner,
    )
    config.setdefault("batch_max_wait_s", 0.01)
    config.setdefault("outbox_after_s", 0.2)
    return Pipeline(writer, metrics, PipelineConfig(**config))


def metric(pipeline: Any, name: str, **labels: str) -> float:
    value = pipeline._metrics.registry.get_sample_value(name, labels or None)
    return 0.0 if value is None else value


def make_recovery(store: Any, publisher: Any, metrics: Any = None, **options: Any) -> Recovery:
    """Recovery for tests: never on its own timer (call `run_once()`), 1 s confirms, clock NOW."""
    options = {"owner": "recovery-owner", "grace_s": 30, "confirm_timeout_s": 1, **options}
    return Recovery(store, publisher, metrics or IngestMetrics(), clock=lambda: NOW, **options)


def orphan_entry(
    batch_id: str, reading_groups: list[list[str]], age_s: float = 3600
) -> OutboxEntry:
    """An outbox entry a crashed process left behind `age_s` ago."""
    return OutboxEntry(batch_id, "dead-process", NOW - timedelta(seconds=age_s), reading_groups)


def stored_row(reading_id: str, device_uuid: str = "d", phase: str = "A") -> dict[str, Any]:
    """A telemetry row an hour old."""
    return {
        "_id": reading_id,
        "device_uuid": device_uuid,
        "timestamp": NOW - timedelta(hours=1),
        "channel_id": 0,
        "phase": phase,
        "temperature": 25.0,
        "line_voltage": 230.0,
        "current": 5.0,
        "active_power": 1000.0,
        "reactive_power": 10.0,
        "processed": True,
    }
