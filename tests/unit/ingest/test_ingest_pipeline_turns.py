"""Store calls take turns (MSM_INGEST_SERIAL_WRITES): the worker's inserts, the confirmer's
`processed` updates and the sweeper's writes never run at once against the database."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from ingest_fakes import (
    NOW,
    Acks,
    FakePublisher,
    FakeStore,
    make_pipeline,
    make_sweeper,
    ms,
    telemetry_payload,
    unprocessed_row,
)
from ingest_fakes import wait_for as eventually
from msm_ingest.domain.devices import DeviceWrite

T0 = ms(NOW - timedelta(minutes=5))


class OverlapStore(FakeStore):
    """A store whose writes take a few milliseconds and which records how many ran at once."""

    def __init__(self) -> None:
        super().__init__()
        self._gate = threading.Lock()
        self.running = 0
        self.most = 0

    @contextmanager
    def _call(self) -> Iterator[None]:
        with self._gate:
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            time.sleep(0.004)
            yield
        finally:
            with self._gate:
                self.running -= 1

    def insert_readings(self, docs: Sequence[dict[str, Any]]) -> list[bool]:
        with self._call():
            return super().insert_readings(docs)

    def update_devices(self, writes: Sequence[DeviceWrite]) -> None:
        with self._call():
            super().update_devices(writes)

    def mark_processed(self, reading_ids: Sequence[str]) -> None:
        with self._call():
            super().mark_processed(reading_ids)

    def unprocessed(self, limit: int) -> list[dict[str, Any]]:
        with self._call():
            return super().unprocessed(limit)


def run_batches(serial: bool, *, with_sweeper: bool = False) -> OverlapStore:
    """Sixty one-reading messages in batches of five; optionally a sweeper sweeping meanwhile."""
    store, publisher, acks = OverlapStore(), FakePublisher(), Acks()
    # Rows a crash left unprocessed, due for the sweeper.
    for i in range(20 if with_sweeper else 0):
        store.rows[f"old-{i}"] = unprocessed_row(f"old-{i}", "dev-9")
    pipeline = make_pipeline(store, publisher, batch_max=5, serial_writes=serial).start()
    sweeper = make_sweeper(
        store, publisher, pipeline._metrics, min_age_s=0, batch=5, turn=pipeline.retry.turn
    )
    stop = threading.Event()

    def sweep() -> None:
        while not stop.is_set():
            sweeper.sweep()

    sweeping = threading.Thread(target=sweep, daemon=True)
    try:
        if with_sweeper:
            sweeping.start()
        for i in range(60):
            payload = telemetry_payload(T0 + i * 1000, phases="A")
            pipeline.submit(acks.delivery(f"msm/dev-{i % 4}/telemetry", payload))
        assert eventually(lambda: acks.acked == 60)
        assert eventually(lambda: all(r["processed"] for r in store.rows.values()))
    finally:
        stop.set()
        if with_sweeper:
            sweeping.join(5)
        pipeline.stop(2.0)
    assert len(store.rows) == (80 if with_sweeper else 60)
    return store


@pytest.mark.parametrize("with_sweeper", [False, True])
def test_serial_writes_never_overlap(with_sweeper: bool) -> None:
    assert run_batches(serial=True, with_sweeper=with_sweeper).most == 1


def test_without_serial_writes_the_confirmer_overlaps_the_worker() -> None:
    """The check above can see an overlap: without turns the two threads do write at once."""
    assert run_batches(serial=False).most == 2
