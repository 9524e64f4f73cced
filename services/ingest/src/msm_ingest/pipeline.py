"""The ingest pipeline: one worker batches, stores and publishes; one confirmer acknowledges.

Stage 1 (worker): take deliveries from the bounded inbox (woken once per batch, closing it at
`batch_max` messages or `batch_max_wait` after its first), parse and route them (handlers),
write the batch (see batch_writer: rows once, quarantine, device info and presence, coalesced
device state), publish its events without waiting, and acknowledge what needs no event.
Stage 2 (confirmer): wait up to `outbox_after` for the batch's confirms, put what is still
unconfirmed in one outbox entry (handed to Recovery), then acknowledge the batch's deliveries.
The worker is the only thread that writes rows and device state: no two of its calls overlap.

A failing database write is retried with backoff and nothing is acknowledged meanwhile; the
bounded queue and the source's receive window stop the flow (back-pressure).
"""

from __future__ import annotations

import logging
import queue
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from msm_common.retry import Backoff

from msm_ingest import handlers
from msm_ingest.batch_writer import BatchWriter, Published, Settled
from msm_ingest.domain.batch import BatchPlan
from msm_ingest.domain.quarantine import INTERNAL_ERROR
from msm_ingest.metrics import IngestMetrics
from msm_ingest.ports import Delivery, StoreUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")
STORE_BACKOFF = Backoff(initial_s=0.1, max_s=5.0)
_NEVER = sys.maxsize


class Stopped(Exception):
    """The shutdown deadline passed while a write was still failing; nothing more is acked."""


@dataclass(frozen=True)
class PipelineConfig:
    batch_max: int = 500
    batch_max_wait_s: float = 0.05
    queue_max: int = 10_000
    outbox_after_s: float = 1.0
    require_known_device: bool = False
    payload_cap: int = 4096


class Retrier:
    """Retry a store call with msm_common's backoff until it succeeds or `abort` is set."""

    def __init__(self, metrics: IngestMetrics, abort: threading.Event) -> None:
        self._metrics = metrics
        self._abort = abort
        self._logged = 0.0

    def __call__(self, step: str, call: Callable[[], T]) -> T:
        attempt = 0
        while True:
            try:
                started = time.perf_counter()
                result = call()
            except StoreUnavailable as exc:
                attempt += 1
                self._metrics.store_retries.inc()
                if time.monotonic() - self._logged > 10:
                    self._logged = time.monotonic()
                    log.warning("store unavailable (%s); retrying, nothing is acked meanwhile", exc)
                if self._abort.wait(STORE_BACKOFF.delay(attempt)):
                    raise Stopped(step) from exc
                continue
            self._metrics.write_seconds.labels(step).observe(time.perf_counter() - started)
            return result


class Pipeline:
    def __init__(
        self,
        writer: BatchWriter,
        metrics: IngestMetrics,
        config: PipelineConfig,
        *,
        flush_acks: Callable[[], None] = lambda: None,
        on_outbox: Callable[[Settled, Published], None] = lambda settled, published: None,
    ) -> None:
        self.config = config
        # Deliveries wait in a deque under one lock. The worker is woken once per batch, not once
        # per message: when the first message arrives (idle), or when a batch is full (filling);
        # between the two it sleeps until the batch's deadline while the source appends. Bounded
        # by hand in messages: MQTT never fills it (the broker stops at the receive maximum);
        # SQS pollers wait for room.
        self._inbox: deque[Delivery] = deque()
        self._queued = 0  # messages in `_inbox`
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)  # the worker waits here
        self._room = threading.Condition(self._lock)  # SQS pollers wait here
        self._wake_at = 1  # queued messages at which the worker wants to be woken
        self._waiting_for_room = 0
        self._writer = writer
        self._metrics = metrics
        self._flush_acks = flush_acks
        self._on_outbox = on_outbox
        self._pending: queue.Queue[Published | None] = queue.Queue(16)
        self._stopping = threading.Event()
        self._abort = threading.Event()
        self._deadline = float("inf")
        self.retry = Retrier(metrics, self._abort)
        self._worker = threading.Thread(target=self._run_worker, name="ingest-worker", daemon=True)
        self._confirmer = threading.Thread(
            target=self._run_confirmer, name="ingest-confirmer", daemon=True
        )

    def submit(self, delivery: Delivery) -> None:
        self.submit_many((delivery,))

    def submit_many(self, deliveries: Sequence[Delivery]) -> None:
        """The pollers' sink (SQS): blocks while the queue is full (back-pressure)."""
        self._submit(deliveries, wait=True)

    def enqueue_many(self, deliveries: Sequence[Delivery]) -> None:
        """The MQTT network thread's sink: never blocks. The broker's receive maximum bounds
        what comes per connection; after a reconnect, deliveries of the old connection still
        queued here may push past `queue_max`, and waiting then would stall keep-alive."""
        self._submit(deliveries, wait=False)

    def _submit(self, deliveries: Sequence[Delivery], *, wait: bool) -> None:
        if not deliveries:
            return
        limit = self.config.queue_max
        with self._lock:
            if wait:
                while self._queued >= limit:
                    if self._stopping.is_set():
                        return  # never acknowledged: the source delivers them again later
                    self._waiting_for_room += 1
                    try:
                        self._room.wait(0.5)
                    finally:
                        self._waiting_for_room -= 1
            self._inbox.extend(deliveries)
            self._queued += len(deliveries)
            if self._queued >= self._wake_at:
                self._wake_at = _NEVER  # one wake-up is enough
                self._ready.notify()

    def start(self) -> Pipeline:
        self._worker.start()
        self._confirmer.start()
        return self

    def stop(self, timeout: float) -> bool:
        """Process what is queued, wait for confirms, ack; give up at `timeout` seconds."""
        self._deadline = time.monotonic() + timeout
        self._stopping.set()
        self._worker.join(max(0.0, timeout - 0.5))
        if self._worker.is_alive():
            self._abort.set()  # a write still failing: leave its messages unacknowledged
            self._worker.join(0.5)
        self._confirmer.join(max(0.0, self._deadline - time.monotonic()))
        self._abort.set()
        return not (self._worker.is_alive() or self._confirmer.is_alive())

    @property
    def alive(self) -> bool:
        return self._worker.is_alive() and self._confirmer.is_alive()

    # -- stage 1 ---------------------------------------------------------------------------------
    def _collect(self) -> list[Delivery]:
        limit = self.config.batch_max
        with self._lock:
            if not self._queued:
                if self._stopping.is_set():
                    return []
                self._wake_at = 1
                self._ready.wait(0.25)
                if not self._queued:
                    self._wake_at = _NEVER
                    return []
            deadline = time.monotonic() + self.config.batch_max_wait_s
            while self._queued < limit and not self._stopping.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._wake_at = limit
                self._ready.wait(remaining)
            self._wake_at = _NEVER  # busy with this batch: the next look is ours
            take = min(limit, self._queued)
            inbox = self._inbox
            batch = [inbox.popleft() for _ in range(take)]
            self._queued -= take
            if self._waiting_for_room:
                self._room.notify_all()
        return batch

    def _run_worker(self) -> None:
        try:
            while True:
                batch = self._collect()
                if batch:
                    self._process(batch)
                elif self._stopping.is_set():
                    self._writer.flush_device_state(self.retry, everything=True)
                    break
                else:
                    self._writer.flush_device_state(self.retry)
        except Stopped as exc:
            log.warning("stopped while %s kept failing; its messages stay unacknowledged", exc)
        finally:
            self._pending.put(None)

    def _plan(self, batch: list[Delivery]) -> BatchPlan[Delivery]:
        parsed = [handlers.parse(d) for d in batch]
        known = None
        if self.config.require_known_device:
            wanted = handlers.devices_to_check(parsed)
            known = frozenset(self.retry("known_devices", lambda: self._writer.known(wanted)))
        ctx = handlers.HandlerContext(known, self.config.payload_cap)
        plan: BatchPlan[Delivery] = BatchPlan(self._writer.now())
        for delivery, message in zip(batch, parsed, strict=True):
            try:
                handlers.handle(delivery, message, plan, ctx)
            except Exception:  # boundary: a handler bug quarantines one message, not the service
                log.exception("handler failed for a message on %s", delivery.topic)
                handlers.reject(plan, delivery, ctx, INTERNAL_ERROR, "handler failed; see logs")
        return plan

    def _process(self, batch: list[Delivery]) -> None:
        self._metrics.batch_size.observe(len(batch))
        self._metrics.queue_depth.set(self._queued)
        plan = self._plan(batch)
        published, durable = self._writer.write(plan, self.retry)
        if durable:
            for delivery in durable:
                delivery.ack()
            self._flush_acks()
        self._metrics.count_messages(plan.outcomes)
        self._metrics.count_rejected(plan.rejected_reasons)
        self._pending.put(published)

    # -- stage 2 ---------------------------------------------------------------------------------
    def _run_confirmer(self) -> None:
        try:
            while True:
                published = self._pending.get()
                if published is None:
                    return
                wait = self.config.outbox_after_s
                if self._stopping.is_set():
                    wait = min(wait, max(0.0, self._deadline - time.monotonic() - 0.5))
                settled = self._writer.settle(published, wait, self.retry)
                for delivery in settled.deliveries:
                    delivery.ack()
                self._flush_acks()
                if settled.entry is not None:
                    self._on_outbox(settled, published)
        except Stopped as exc:
            log.warning("stopped while %s kept failing; its messages stay unacknowledged", exc)
