"""Republishes the events that outbox entries hold, until RabbitMQ confirms them.

Two kinds of entries:
- this process's own (`hold`): written by the pipeline when a batch's events were not confirmed
  within `outbox_after`. Their first publish may still be confirmed; once it is, or once it
  failed or `confirm_timeout` passed, what is still unconfirmed is republished from here. Only
  this thread handles them after that, so this process never announces an event twice.
- everybody else's older than `grace` (a replica that crashed, or this replica before a
  restart): republished, telemetry rebuilt from the rows they list (one event per list, so the
  same readings and the same event id as the first time). A live replica slower than the grace
  costs a duplicate (same id), never a gap.
An entry is removed once all its events are confirmed. Runs at start and every `interval`.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from msm_common.contracts import Reading

from msm_ingest.domain.events import OutEvent, telemetry_event
from msm_ingest.domain.outbox import OutboxEntry
from msm_ingest.metrics import IngestMetrics
from msm_ingest.ports import Confirmation, EventPublisher, Store, StoreUnavailable

log = logging.getLogger(__name__)
COUNT_CAP = 1_000_000


@dataclass
class Held:
    entry: OutboxEntry
    confirmation: Confirmation  # of the batch's first publish
    positions: list[int]  # the entry's events in that batch
    deadline: float  # monotonic: stop waiting for the first publish then


def reading_from_row(row: dict[str, Any]) -> Reading:
    return Reading(
        row["device_uuid"],
        row["timestamp"].astimezone(UTC),
        row["channel_id"],
        row["phase"],
        row["temperature"],
        row["line_voltage"],
        row["current"],
        row["active_power"],
        row["reactive_power"],
    )


class Recovery:
    def __init__(
        self,
        store: Store,
        publisher: EventPublisher,
        metrics: IngestMetrics,
        *,
        owner: str,
        clock: Callable[[], datetime],
        interval_s: float = 5.0,
        grace_s: float = 60.0,
        confirm_timeout_s: float = 10.0,
        batch: int = 100,
        event_source: str = "msm-ingest",
    ) -> None:
        self._store = store
        self._publisher = publisher
        self._metrics = metrics
        self._owner = owner
        self._clock = clock
        self._interval = interval_s
        self._grace = timedelta(seconds=grace_s)
        self._confirm_timeout = confirm_timeout_s
        self._batch = batch
        self._source = event_source
        self._incoming: queue.SimpleQueue[Held] = queue.SimpleQueue()
        self._held: list[Held] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def hold(
        self, entry: OutboxEntry | None, confirmation: Confirmation, positions: list[int]
    ) -> None:
        """Take over an entry the pipeline just wrote (any thread)."""
        if entry is None:
            return
        deadline = time.monotonic() + self._confirm_timeout
        self._incoming.put(Held(entry, confirmation, positions, deadline))

    def start(self) -> Recovery:
        self._thread = threading.Thread(target=self._run, name="ingest-recovery", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            try:
                self.run_once()
            except StoreUnavailable as exc:
                log.warning("outbox recovery: store unavailable (%s); next pass later", exc)
            if self._stop.wait(self._interval):
                return

    def run_once(self) -> int:
        """One pass over own and orphaned entries; how many entries were settled."""
        settled = self._own()
        if self._publisher.ready:
            settled += self._orphans()
        self._metrics.outbox_entries.set(self._store.outbox_count(COUNT_CAP))
        return settled

    def _own(self) -> int:
        while True:
            try:
                self._held.append(self._incoming.get_nowait())
            except queue.Empty:
                break
        keep: list[Held] = []
        done: list[str] = []
        for held in self._held:
            states = held.confirmation.wait(0)
            if all(states[i] for i in held.positions):
                done.append(held.entry.batch_id)
                self._metrics.events.labels("confirmed").inc(len(held.positions))
            elif time.monotonic() < held.deadline and not held.confirmation.done:
                # the first publish may still be confirmed
                keep.append(held)
            elif self._publisher.ready and self._try_republish(held.entry):
                done.append(held.entry.batch_id)
            else:
                keep.append(held)
        self._held = keep
        if done:
            self._store.outbox_remove(done)
        return len(done)

    def _orphans(self) -> int:
        older_than = self._clock() - self._grace
        total = 0
        while not self._stop.is_set():
            entries = self._store.outbox_due(older_than, self._owner, self._batch)
            done = [e.batch_id for e in entries if self._republish(e, "orphan")]
            if done:
                self._store.outbox_remove(done)
            total += len(done)
            if len(done) < len(entries) or len(entries) < self._batch:
                break
        if total:
            log.info("republished the events of %d outbox entries of other processes", total)
        return total

    def _try_republish(self, entry: OutboxEntry) -> bool:
        try:
            return self._republish(entry, "own")
        except StoreUnavailable as exc:  # its rows unreadable now: keep it for the next pass
            log.warning("outbox recovery: store unavailable (%s)", exc)
            return False

    def _republish(self, entry: OutboxEntry, kind: str) -> bool:
        out = self._events(entry)
        ok = self._publisher.publish(out).wait(self._confirm_timeout)
        self._metrics.events_republished.labels(kind).inc(sum(ok))
        return all(ok)

    def _events(self, entry: OutboxEntry) -> list[OutEvent]:
        rows = {row["_id"]: row for row in self._store.readings(entry.reading_ids)}
        out: list[OutEvent] = []
        for ids in entry.telemetry:
            present = [rid for rid in ids if rid in rows]
            if present:  # rows gone (retention) have nothing left to announce
                readings = [reading_from_row(rows[rid]) for rid in present]
                out.append(telemetry_event(readings, present, self._source))
        return out + entry.others
