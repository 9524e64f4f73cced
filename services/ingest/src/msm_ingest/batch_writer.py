"""Carries out a batch plan: the writes, the events, and which deliveries may be acknowledged."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar

from msm_common.contracts import DeviceInfoMessage, Reading

from msm_ingest.domain import batch, devices, events
from msm_ingest.domain.batch import BatchPlan
from msm_ingest.domain.events import OutEvent
from msm_ingest.domain.shadow import ShadowState
from msm_ingest.metrics import IngestMetrics
from msm_ingest.ports import Confirmation, Delivery, EventPublisher, Store

T = TypeVar("T")


class Retry(Protocol):
    """Run a store call, retrying it until it succeeds (see pipeline.Retrier)."""

    def __call__(self, step: str, call: Callable[[], T]) -> T: ...


class InFlight:
    """Reading ids this process is storing or publishing right now.

    The sweeper reads unprocessed rows while the pipeline settles them; `watch()` also reports
    the ids settled since the watch began, so a row confirmed during the sweeper's (possibly
    slow) query is never taken for an orphan.
    """

    def __init__(self) -> None:
        self._ids: set[str] = set()
        self._watchers: list[set[str]] = []
        self._lock = threading.Lock()

    def add(self, ids: Iterable[str]) -> None:
        with self._lock:
            self._ids.update(ids)

    def discard(self, ids: Iterable[str]) -> None:
        settled = list(ids)
        with self._lock:
            self._ids.difference_update(settled)
            for watcher in self._watchers:
                watcher.update(settled)

    @contextlib.contextmanager
    def watch(self) -> Iterator[Callable[[str], bool]]:
        """Yield `busy(id)`: in flight now, or settled since the watch began."""
        settled: set[str] = set()
        with self._lock:
            self._watchers.append(settled)

        def busy(reading_id: str) -> bool:
            with self._lock:
                return reading_id in self._ids or reading_id in settled

        try:
            yield busy
        finally:
            with self._lock:
                self._watchers.remove(settled)


class ShadowSink(Protocol):
    def offer(self, device_uuid: str, state: ShadowState) -> None: ...


@dataclass
class PendingEvents:
    """A published batch of events waiting for its confirms, and what depends on them."""

    confirmation: Confirmation
    # The first len(reading_ids) events are telemetry events; each announces these readings.
    reading_ids: list[list[str]]
    others: list[OutEvent]
    deferred: list[Delivery] = field(default_factory=list)


class BatchWriter:
    def __init__(
        self,
        store: Store,
        publisher: EventPublisher,
        metrics: IngestMetrics,
        *,
        clock: Callable[[], datetime],
        event_source: str = "msm-ingest",
        shadow: ShadowSink | None = None,
        in_flight: InFlight | None = None,
        events_first: bool = False,
        confirm_timeout_s: float = 10.0,
    ) -> None:
        self._events_first = events_first
        self._confirm_timeout = confirm_timeout_s
        self.in_flight = in_flight if in_flight is not None else InFlight()
        self.store = store
        self.publisher = publisher
        self._metrics = metrics
        self._clock = clock
        self._source = event_source
        self._shadow = shadow

    def now(self) -> datetime:
        return self._clock()

    def known(self, device_uuids: Iterable[str]) -> set[str]:
        return self.store.known_devices(device_uuids)

    def write(
        self, plan: BatchPlan[Delivery], retry: Retry
    ) -> tuple[PendingEvents, list[Delivery]]:
        """Store the plan, publish its events; return them and the deliveries now durable."""
        out, inserted = self._write_telemetry(plan, retry)
        records = [record for record, _ in plan.rejected]
        if records:
            retry("quarantine", lambda: self.store.quarantine(records))
        durable: list[Delivery] = [*plan.telemetry_deliveries, *plan.skipped]
        durable.extend(d for _, d in plan.rejected)
        others, deferred = self._write_device_state(plan, retry, durable)
        self._count_telemetry(plan, inserted)
        confirmation = self.publisher.publish([*out.events, *others])
        self._metrics.events_unconfirmed.inc(len(out.events) + len(others))
        return PendingEvents(confirmation, out.reading_ids, others, deferred), durable

    def _write_telemetry(
        self, plan: BatchPlan[Delivery], retry: Retry
    ) -> tuple[events.TelemetryEvents, list[bool]]:
        """Insert the rows, update their devices; the events of the rows to announce."""
        docs = plan.telemetry_documents()
        self.in_flight.add(plan.reading_ids)
        if self._events_first:
            return events.TelemetryEvents([], []), self._write_telemetry_events_first(
                plan, docs, retry
            )
        attempts = 0

        def insert() -> list[bool]:
            nonlocal attempts
            attempts += 1
            return self.store.insert_readings(docs)

        inserted = retry("telemetry_insert", insert)
        newest = plan.newest_by_device()
        writes = devices.telemetry_writes(newest, plan.last_seen, plan.now)
        if writes:
            retry("device_update", lambda: self.store.update_devices(writes))
        self._offer_readings(newest, plan)
        # After a failed attempt the duplicates may be this batch's own rows: publish them all.
        if attempts > 1 or all(inserted):
            return events.telemetry_events(plan.readings, plan.reading_ids, self._source), inserted
        chosen = [i for i, fresh in enumerate(inserted) if fresh]
        # Duplicates were stored by an earlier copy of the message, which settles them.
        duplicates = zip(plan.reading_ids, inserted, strict=True)
        self.in_flight.discard(rid for rid, fresh in duplicates if not fresh)
        out = events.telemetry_events(
            [plan.readings[i] for i in chosen], [plan.reading_ids[i] for i in chosen], self._source
        )
        return out, inserted

    def _write_telemetry_events_first(
        self, plan: BatchPlan[Delivery], docs: list[dict[str, Any]], retry: Retry
    ) -> list[bool]:
        """`events_first`: publish, wait for the confirms, then insert rows already `processed`.

        One write per row instead of two (no `processed` update afterwards). An event may reach
        a consumer a moment before its row is stored; a crash between the two redelivers the
        message, which stores the row and publishes the event again (same id).
        """
        out = events.telemetry_events(plan.readings, plan.reading_ids, self._source)
        ok = self.publisher.publish(out.events).wait(self._confirm_timeout)
        confirmed = {
            rid for ids, done in zip(out.reading_ids, ok, strict=True) if done for rid in ids
        }
        for doc in docs:
            doc["processed"] = doc["_id"] in confirmed
        good = sum(ok)
        self._metrics.events.labels("confirmed").inc(good)
        self._metrics.events.labels("failed").inc(len(ok) - good)
        inserted = retry("telemetry_insert", lambda: self.store.insert_readings(docs))
        newest = plan.newest_by_device()
        writes = devices.telemetry_writes(newest, plan.last_seen, plan.now)
        if writes:
            retry("device_update", lambda: self.store.update_devices(writes))
        self._offer_readings(newest, plan)
        self.in_flight.discard(plan.reading_ids)  # unconfirmed rows are the sweeper's now
        return inserted

    def _write_device_state(
        self, plan: BatchPlan[Delivery], retry: Retry, durable: list[Delivery]
    ) -> tuple[list[OutEvent], list[Delivery]]:
        """Device info and presence (guarded), command acks; their events and deliveries.

        A stale message has no event, so it is durable (acked) at once; the others wait for
        their event's confirm (or outbox entry).
        """
        store, source = self.store, self._source
        others: list[OutEvent] = []
        deferred: list[Delivery] = []
        for msg, d, event_id in plan.infos:
            write = devices.device_info_write(msg, plan.now)
            if retry("device_info", _applier(store, write, upsert=True)):
                others.append(events.device_info_event(msg, event_id, source))
                deferred.append(d)
                plan.outcomes[batch.DEVICE_INFO, "stored"] += 1
                self._offer_info(msg)
            else:
                durable.append(d)
                plan.outcomes[batch.DEVICE_INFO, "stale"] += 1
        for event, d, event_id in plan.presences:
            write = devices.presence_write(event)
            if retry("presence", _applier(store, write, upsert=False)):
                others.append(events.presence_event(event, event_id, source))
                deferred.append(d)
                plan.outcomes[batch.PRESENCE, "stored"] += 1
            else:  # older than what is stored, or not a registered device
                durable.append(d)
                plan.outcomes[batch.PRESENCE, "not_applied"] += 1
        for ack, d, event_id in plan.command_acks:
            others.append(events.command_ack_event(ack, event_id, source))
            deferred.append(d)
            plan.outcomes[batch.COMMAND_ACK, "forwarded"] += 1
        return others, deferred

    def settle(self, batches: list[PendingEvents], timeout: float, retry: Retry) -> list[Delivery]:
        """Record the confirms of published batches (one write for all of them); return the
        deliveries that may now be acknowledged."""
        deadline = time.monotonic() + timeout
        confirmed: list[str] = []
        unsent: list[OutEvent] = []
        settled: list[str] = []
        deferred: list[Delivery] = []
        good = total = 0
        for pending in batches:
            ok = pending.confirmation.wait(max(0.0, deadline - time.monotonic()))
            n = len(pending.reading_ids)
            for ids, done in zip(pending.reading_ids, ok, strict=False):
                if done:
                    confirmed += ids
            for ids in pending.reading_ids:  # confirmed or not: no longer this batch's
                settled += ids
            unsent += [e for e, done in zip(pending.others, ok[n:], strict=True) if not done]
            deferred += pending.deferred
            good, total = good + sum(ok), total + len(ok)
        if confirmed:
            retry("mark_processed", lambda: self.store.mark_processed(confirmed))
        self.in_flight.discard(settled)
        if unsent:
            # Telemetry rows are their own outbox (`processed`); other events need one.
            retry("outbox", lambda: self.store.outbox_add(unsent, self._clock()))
        self._metrics.events.labels("confirmed").inc(good)
        self._metrics.events.labels("failed").inc(total - good)
        self._metrics.events_unconfirmed.dec(total)
        return deferred

    def _count_telemetry(self, plan: BatchPlan[Delivery], inserted: list[bool]) -> None:
        stored = sum(inserted)
        self._metrics.readings.labels("stored").inc(stored)
        self._metrics.readings.labels("duplicate").inc(len(inserted) - stored)
        position, fresh = 0, 0
        for count in plan.readings_per_delivery:
            fresh += any(inserted[position : position + count])
            position += count
        plan.outcomes[batch.TELEMETRY, "stored"] += fresh
        plan.outcomes[batch.TELEMETRY, "duplicate"] += len(plan.readings_per_delivery) - fresh

    def _offer_readings(
        self, newest: Mapping[str, Mapping[str, Reading]], plan: BatchPlan[Delivery]
    ) -> None:
        if self._shadow is None:
            return
        for device_uuid, latest in newest.items():
            state = ShadowState()
            state.add_readings(latest, plan.last_seen[device_uuid])
            self._shadow.offer(device_uuid, state)

    def _offer_info(self, msg: DeviceInfoMessage) -> None:
        if self._shadow is None:
            return
        state = ShadowState()
        state.add_info(msg)
        self._shadow.offer(msg.device_uuid, state)


def _applier(store: Store, write: devices.DeviceWrite, *, upsert: bool) -> Callable[[], bool]:
    return lambda: store.apply(write, upsert=upsert)
