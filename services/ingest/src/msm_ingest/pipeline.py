"""The ingest pipeline: one worker batches, stores, publishes and acknowledges; one confirmer.

Stage 1 (worker): take deliveries from the bounded queue (`get(timeout)`, closing a batch at
`batch_max` messages or `batch_max_wait` after its first), parse and route them (handlers),
write the batch (telemetry `insert_many`, one device `bulk_write`, quarantine, device info and
presence), publish its events without waiting, then acknowledge every delivery whose effect is
now durable. Stage 2 (confirmer): wait for the broker's confirms, set `processed` on confirmed
telemetry rows, put unconfirmed non-telemetry events in the outbox, and only then acknowledge
the deliveries whose only durable effect is their event (acks, device info, presence).

A failing database write is retried with backoff and nothing is acknowledged meanwhile; the
bounded queue and the source's receive window stop the flow (back-pressure).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TypeVar

from msm_ingest import handlers
from msm_ingest.batch_writer import BatchWriter, PendingEvents
from msm_ingest.domain.batch import BatchPlan
from msm_ingest.domain.quarantine import INTERNAL_ERROR
from msm_ingest.metrics import IngestMetrics
from msm_ingest.ports import Delivery, StoreUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")


class Stopped(Exception):
    """The shutdown deadline passed while a write was still failing; nothing more is acked."""


@dataclass(frozen=True)
class PipelineConfig:
    batch_max: int = 500
    batch_max_wait_s: float = 0.05
    queue_max: int = 10_000
    confirm_timeout_s: float = 10.0
    require_known_device: bool = False
    payload_cap: int = 4096
    serial_writes: bool = True


class Retrier:
    """Retry a store call with exponential backoff until it succeeds or `abort` is set.

    `serial`: the worker's and the confirmer's store calls run one at a time. On a database
    that serves concurrent writes badly (the local stand-in: one Python process) the
    confirmer's `processed` updates and the worker's inserts slowed each other down to
    seconds per call; taking turns keeps every call as fast as it is alone.
    """

    def __init__(
        self, metrics: IngestMetrics, abort: threading.Event, *, serial: bool = True
    ) -> None:
        self._metrics = metrics
        self._abort = abort
        self._logged = 0.0
        self._turn: AbstractContextManager[object] = (
            threading.Lock() if serial else contextlib.nullcontext()
        )

    @property
    def turn(self) -> AbstractContextManager[object]:
        """Held around each store call; other threads that write take it too (the sweeper)."""
        return self._turn

    def __call__(self, step: str, call: Callable[[], T]) -> T:
        delay = 0.1
        while True:
            try:
                with self._turn:
                    started = time.perf_counter()
                    result = call()
                    took = time.perf_counter() - started
            except StoreUnavailable as exc:
                self._metrics.store_retries.inc()
                if time.monotonic() - self._logged > 10:
                    self._logged = time.monotonic()
                    log.warning("store unavailable (%s); retrying, nothing is acked meanwhile", exc)
                if self._abort.wait(delay):
                    raise Stopped(step) from exc
                delay = min(delay * 2, 5.0)
                continue
            self._metrics.write_seconds.labels(step).observe(took)
            return result


class Pipeline:
    def __init__(
        self,
        writer: BatchWriter,
        metrics: IngestMetrics,
        config: PipelineConfig,
        *,
        flush_acks: Callable[[], None] = lambda: None,
    ) -> None:
        self.config = config
        # A SimpleQueue (C, ~10x cheaper than queue.Queue) of bursts (what a source read in one
        # go: one put and one wake-up per burst, not per message), bounded by hand in messages:
        # MQTT never fills it (the broker stops at the receive maximum); SQS pollers wait.
        self.queue: queue.SimpleQueue[Sequence[Delivery]] = queue.SimpleQueue()
        self._queued = 0  # messages in `queue`
        self._queued_lock = threading.Lock()
        self._carry: list[Delivery] = []  # what the last batch had no room for (worker only)
        self._room = threading.Condition()
        self._waiting_for_room = 0
        self._writer = writer
        self._metrics = metrics
        self._flush_acks = flush_acks
        self._pending: queue.Queue[PendingEvents | None] = queue.Queue(8)
        self._stopping = threading.Event()
        self._abort = threading.Event()
        self._deadline = float("inf")
        self.retry = Retrier(metrics, self._abort, serial=config.serial_writes)
        self._worker = threading.Thread(target=self._run_worker, name="ingest-worker", daemon=True)
        self._confirmer = threading.Thread(
            target=self._run_confirmer, name="ingest-confirmer", daemon=True
        )

    def submit(self, delivery: Delivery) -> None:
        self.submit_many((delivery,))

    def submit_many(self, deliveries: Sequence[Delivery]) -> None:
        """The sources' sink: blocks while the queue is full (back-pressure)."""
        if not deliveries:
            return
        limit = self.config.queue_max
        if self._queued >= limit:
            with self._room:
                self._waiting_for_room += 1
                try:
                    while self._queued >= limit:
                        if self._stopping.is_set():
                            return  # never acknowledged: the source delivers them again later
                        self._room.wait(0.5)
                finally:
                    self._waiting_for_room -= 1
        with self._queued_lock:
            self._queued += len(deliveries)
        self.queue.put(deliveries)

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
        q, stopping, limit = self.queue, self._stopping.is_set(), self.config.batch_max
        batch, self._carry = self._carry, []
        if not batch:
            try:
                batch = list(q.get_nowait() if stopping else q.get(timeout=0.25))
            except queue.Empty:
                return []
        deadline = time.monotonic() + self.config.batch_max_wait_s
        while len(batch) < limit:
            try:
                batch += q.get_nowait()
                continue
            except queue.Empty:
                pass
            remaining = deadline - time.monotonic()
            if remaining <= 0 or stopping:
                break
            try:
                batch += q.get(timeout=remaining)
            except queue.Empty:
                break
        if len(batch) > limit:
            batch, self._carry = batch[:limit], batch[limit:]
        with self._queued_lock:
            self._queued -= len(batch)
        if self._waiting_for_room:
            with self._room:
                self._room.notify_all()
        return batch

    def _run_worker(self) -> None:
        try:
            while True:
                batch = self._collect()
                if batch:
                    self._process(batch)
                elif self._stopping.is_set():
                    break
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
        pending, durable = self._writer.write(plan, self.retry)
        for delivery in durable:
            delivery.ack()
        self._flush_acks()
        self._metrics.count_messages(plan.outcomes)
        self._metrics.count_rejected(plan.rejected_reasons)
        self._pending.put(pending)

    # -- stage 2 ---------------------------------------------------------------------------------
    def _run_confirmer(self) -> None:
        try:
            done = False
            while not done:
                first = self._pending.get()
                batches = [] if first is None else [first]
                done = first is None
                while not done:  # whatever else is waiting settles in the same write
                    try:
                        more = self._pending.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        done = True
                    else:
                        batches.append(more)
                if not batches:
                    continue
                timeout = self.config.confirm_timeout_s
                if self._stopping.is_set():
                    timeout = min(timeout, max(0.0, self._deadline - time.monotonic() - 0.2))
                for delivery in self._writer.settle(batches, timeout, self.retry):
                    delivery.ack()
                self._flush_acks()
        except Stopped as exc:
            log.warning("stopped while %s kept failing; confirms left to the sweeper", exc)
