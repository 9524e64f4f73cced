"""Carries out a batch plan: one durable write per reading, the events, and what may be acked.

Per batch: the telemetry rows are inserted once (unordered, deterministic `_id`, never updated
afterwards), quarantine records and guarded device info / presence writes are applied, the
device state that is due is written (coalesced, see domain/device_state.py), and every event of
the batch is published. The deliveries whose effect is an event are acknowledged once RabbitMQ
confirmed their events, or, when it did not within `outbox_after`, once one outbox entry for the
batch recorded what is still unconfirmed (`settle`). A crash before either leaves them
unacknowledged: they come again, their rows are duplicates, and their events go out again with
the same ids. So nothing stored goes unannounced and no reading is stored twice.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar

from msm_common.contracts import DeviceInfoMessage, Reading

from msm_ingest.domain import batch, devices, events
from msm_ingest.domain.batch import BatchPlan
from msm_ingest.domain.device_state import DeviceStateCoalescer
from msm_ingest.domain.events import OutEvent
from msm_ingest.domain.outbox import OutboxEntry
from msm_ingest.domain.shadow import ShadowState
from msm_ingest.metrics import IngestMetrics
from msm_ingest.ports import Confirmation, Delivery, EventPublisher, Store

T = TypeVar("T")


class Retry(Protocol):
    """Run a store call, retrying it until it succeeds (see pipeline.Retrier)."""

    def __call__(self, step: str, call: Callable[[], T]) -> T: ...


class ShadowSink(Protocol):
    def offer(self, device_uuid: str, state: ShadowState) -> None: ...


@dataclass
class Published:
    """A batch whose events went out, and the deliveries that wait for their confirms."""

    batch_id: str
    confirmation: Confirmation
    telemetry: list[list[str]]  # the first len(telemetry) events: the reading ids of each
    others: list[OutEvent]
    deliveries: list[Delivery]


@dataclass
class Settled:
    """What `settle` decided: deliveries to acknowledge, and the outbox entry it wrote if any."""

    deliveries: list[Delivery]
    entry: OutboxEntry | None
    positions: list[int]  # the entry's events, as positions in the published batch


class BatchWriter:
    def __init__(
        self,
        store: Store,
        publisher: EventPublisher,
        metrics: IngestMetrics,
        *,
        clock: Callable[[], datetime],
        mono: Callable[[], float] = time.monotonic,
        event_source: str = "msm-ingest",
        shadow: ShadowSink | None = None,
        device_state: DeviceStateCoalescer | None = None,
        owner: str = "",
    ) -> None:
        self.store = store
        self.publisher = publisher
        self.owner = owner or uuid.uuid4().hex
        self.device_state = device_state if device_state is not None else DeviceStateCoalescer(60)
        self._metrics = metrics
        self._clock = clock
        self._mono = mono
        self._source = event_source
        self._shadow = shadow

    def now(self) -> datetime:
        return self._clock()

    def known(self, device_uuids: Iterable[str]) -> set[str]:
        return self.store.known_devices(device_uuids)

    def write(self, plan: BatchPlan[Delivery], retry: Retry) -> tuple[Published, list[Delivery]]:
        """Store the plan and publish its events: (the batch awaiting confirms, deliveries that
        may be acknowledged now: quarantined, skipped, stale)."""
        docs = plan.telemetry_documents()
        inserted = (
            retry("telemetry_insert", lambda: self.store.insert_readings(docs)) if docs else []
        )
        newest = plan.newest_by_device()
        self.device_state.observe(newest, plan.last_seen, self._mono())
        records = [record for record, _ in plan.rejected]
        if records:
            retry("quarantine", lambda: self.store.quarantine(records))
        now_durable: list[Delivery] = [*plan.skipped, *(d for _, d in plan.rejected)]
        others, waiting = self._write_device_state(plan, retry, now_durable)
        self.flush_device_state(retry)
        self._offer_readings(newest, plan)
        self._count_telemetry(plan, inserted)
        # Every reading, duplicates too: a duplicate may be the row of a copy whose event a
        # crash left unconfirmed (same event id again, never a gap).
        out = events.telemetry_events(plan.readings, plan.reading_ids, self._source)
        confirmation = self.publisher.publish([*out.events, *others])
        self._metrics.events_unconfirmed.inc(len(out.events) + len(others))
        published = Published(
            uuid.uuid4().hex,
            confirmation,
            out.reading_ids,
            others,
            [*plan.telemetry_deliveries, *waiting],
        )
        return published, now_durable

    def flush_device_state(self, retry: Retry, *, everything: bool = False) -> None:
        """Write the coalesced device state that is due (all of it with `everything`)."""
        writes = self.device_state.take_due(self._mono(), self._clock(), everything=everything)
        if writes:
            retry("device_update", lambda: self.store.update_devices(writes))
            self._metrics.device_writes.inc(len(writes))
        self._metrics.device_state_waiting.set(self.device_state.waiting)

    def settle(self, published: Published, wait_s: float, retry: Retry) -> Settled:
        """Wait up to `wait_s` for the confirms; record what is still unconfirmed in one outbox
        entry; then every delivery of the batch may be acknowledged."""
        ok = published.confirmation.wait(wait_s)
        n = len(published.telemetry)
        positions = [i for i, good in enumerate(ok) if not good]
        self._metrics.events.labels("confirmed").inc(len(ok) - len(positions))
        self._metrics.events_unconfirmed.dec(len(ok))
        if not positions:
            return Settled(published.deliveries, None, [])
        entry = OutboxEntry(
            published.batch_id,
            self.owner,
            self._clock(),
            telemetry=[published.telemetry[i] for i in positions if i < n],
            others=[published.others[i - n] for i in positions if i >= n],
        )
        retry("outbox", lambda: self.store.outbox_add(entry))
        self._metrics.events.labels("outboxed").inc(len(positions))
        return Settled(published.deliveries, entry, positions)

    def _write_device_state(
        self, plan: BatchPlan[Delivery], retry: Retry, now_durable: list[Delivery]
    ) -> tuple[list[OutEvent], list[Delivery]]:
        """Device info and presence (guarded), command acks: their events and deliveries.

        A stale message has no event, so it is durable (acked) at once; the others wait for
        their event's confirm (or outbox entry).
        """
        store, source = self.store, self._source
        others: list[OutEvent] = []
        waiting: list[Delivery] = []
        for msg, d, event_id in plan.infos:
            write = devices.device_info_write(msg, plan.now)
            if retry("device_info", _applier(store, write, upsert=True)):
                others.append(events.device_info_event(msg, event_id, source))
                waiting.append(d)
                plan.outcomes[batch.DEVICE_INFO, "stored"] += 1
                self._offer_info(msg)
            else:
                now_durable.append(d)
                plan.outcomes[batch.DEVICE_INFO, "stale"] += 1
        for event, d, event_id in plan.presences:
            write = devices.presence_write(event)
            if retry("presence", _applier(store, write, upsert=False)):
                others.append(events.presence_event(event, event_id, source))
                waiting.append(d)
                plan.outcomes[batch.PRESENCE, "stored"] += 1
                self.device_state.changed(event.client_id, self._mono())
            else:  # older than what is stored, or not a registered device
                now_durable.append(d)
                plan.outcomes[batch.PRESENCE, "not_applied"] += 1
        for ack, d, event_id in plan.command_acks:
            others.append(events.command_ack_event(ack, event_id, source))
            waiting.append(d)
            plan.outcomes[batch.COMMAND_ACK, "forwarded"] += 1
        return others, waiting

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
