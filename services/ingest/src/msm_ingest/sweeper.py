"""Republishes what a crash or a RabbitMQ outage left unconfirmed.

Telemetry rows with `processed: false` are due when this process is not handling them (nor
settled them while the sweeper's query ran) and they are older than `min_age`: by their reading
timestamp, or, for rows stamped in the future by a fast device clock, since the sweeper first
saw them. Another replica's rows in flight may be taken for orphans when they carry old
timestamps (a backfill): that costs a duplicate (same reading ids), never a lost one. Rows are
announced one event per device and instant, as live; a sample split across two sweeps goes out
as two events (disjoint readings, distinct ids). Events in the outbox are always due. Work goes
in bounded batches and continues at once while a full batch was confirmed, so a backlog drains
without waiting for the next interval."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

from msm_common.contracts import Reading

from msm_ingest.batch_writer import InFlight
from msm_ingest.domain.events import telemetry_events
from msm_ingest.metrics import IngestMetrics
from msm_ingest.ports import EventPublisher, Store, StoreUnavailable

log = logging.getLogger(__name__)
PENDING_COUNT_CAP = 1_000_000


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


class Sweeper:
    def __init__(
        self,
        store: Store,
        publisher: EventPublisher,
        metrics: IngestMetrics,
        *,
        interval_s: float,
        min_age_s: float,
        batch: int,
        confirm_timeout_s: float,
        clock: Callable[[], datetime],
        event_source: str = "msm-ingest",
        in_flight: InFlight | None = None,
        turn: AbstractContextManager[object] | None = None,
    ) -> None:
        self._in_flight = in_flight if in_flight is not None else InFlight()
        # The pipeline's turn for store calls (see Retrier): a backlog swept after an outage
        # takes turns with the live batches instead of slowing them down.
        self._turn = turn if turn is not None else contextlib.nullcontext()
        self._store = store
        self._publisher = publisher
        self._metrics = metrics
        self._interval = interval_s
        self._min_age = min_age_s
        self._batch = batch
        self._confirm_timeout = confirm_timeout_s
        self._clock = clock
        self._source = event_source
        self._first_seen: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Sweeper:
        self._thread = threading.Thread(target=self._run, name="ingest-sweeper", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.sweep()
            except StoreUnavailable as exc:
                log.warning("sweeper: store unavailable (%s); next pass later", exc)

    def sweep(self) -> int:
        """One pass: republish due telemetry and outbox events; return how many readings and
        outbox events they carried."""
        swept = 0
        if self._publisher.ready:
            swept += self._sweep_telemetry()
            swept += self._sweep_outbox()
        with self._turn:
            pending = self._store.count_pending(PENDING_COUNT_CAP)
        self._metrics.events_pending.set(pending)
        return swept

    def _due(self, rows: list[dict[str, Any]], busy: Callable[[str], bool]) -> list[dict[str, Any]]:
        mono = time.monotonic()
        cutoff = self._clock() - timedelta(seconds=self._min_age)
        seen = {row["_id"]: self._first_seen.get(row["_id"], mono) for row in rows}
        self._first_seen = seen  # forget rows that were confirmed meanwhile
        return [
            row
            for row in rows
            if not busy(row["_id"])
            and (row["timestamp"] <= cutoff or mono - seen[row["_id"]] >= self._min_age)
        ]

    def _sweep_telemetry(self) -> int:
        total = 0
        while not self._stop.is_set():
            with self._in_flight.watch() as busy:
                with self._turn:
                    rows = self._store.unprocessed(self._batch)
                due = self._due(rows, busy)
            if not due:
                break
            # A sample's rows together, so that it goes out as one event.
            due.sort(key=lambda row: (row["device_uuid"], row["timestamp"]))
            out = telemetry_events(
                [reading_from_row(r) for r in due], [r["_id"] for r in due], self._source
            )
            ok = self._publisher.publish(out.events).wait(self._confirm_timeout)
            confirmed = [
                rid for ids, good in zip(out.reading_ids, ok, strict=True) if good for rid in ids
            ]
            with self._turn:
                self._store.mark_processed(confirmed)
            total += len(confirmed)
            self._metrics.events_swept.labels("telemetry").inc(sum(ok))
            if not all(ok) or len(rows) < self._batch or len(due) < len(rows):
                break
        if total:
            log.info("sweeper republished the events of %d telemetry readings", total)
        return total

    def _sweep_outbox(self) -> int:
        total = 0
        while not self._stop.is_set():
            with self._turn:
                out = self._store.outbox_due(self._batch)
            if not out:
                break
            ok = self._publisher.publish(out).wait(self._confirm_timeout)
            confirmed = [e.event_id for e, good in zip(out, ok, strict=True) if good]
            with self._turn:
                self._store.outbox_remove(confirmed)
            total += len(confirmed)
            self._metrics.events_swept.labels("outbox").inc(len(confirmed))
            if len(confirmed) < len(out) or len(out) < self._batch:
                break
        return total
