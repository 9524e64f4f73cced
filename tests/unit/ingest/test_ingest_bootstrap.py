"""The composition root with fakes: start-up waits for the database, and each part is wired
through what its port declares (the sink a source may block in, its disconnect count)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from ingest_fakes import FakePublisher, FakeStore
from msm_ingest.bootstrap import Ingest, bootstrap
from msm_ingest.ports import Sink
from msm_ingest.settings import IngestSettings


class StubSource:
    """A Source that only records the sink it was given."""

    name = "stub"

    def __init__(self, *, may_block: bool, disconnects: int = 0) -> None:
        self.sink_may_block = may_block
        self.disconnects = disconnects
        self.sink: Sink | None = None

    def start(self, sink: Sink) -> None:
        self.sink = sink

    def pause(self) -> None: ...
    def flush_acks(self) -> None: ...
    def stop(self) -> None: ...
    def ready(self) -> bool:
        return True


def settings() -> IngestSettings:
    return IngestSettings(shadow_enabled=False, telemetry_retention_days=30)


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


def build(store: FakeStore, source: StubSource) -> Ingest:
    return bootstrap(settings(), store=store, publisher=FakePublisher(), source=source)


@pytest.fixture
def started() -> Iterator[list[Ingest]]:
    running: list[Ingest] = []
    yield running
    for ingest in running:
        ingest.stop(1.0)


def test_prepare_retries_until_the_database_answers(store: FakeStore) -> None:
    store.failures["prepare"] = 1
    ingest = build(store, StubSource(may_block=True))

    assert ingest.prepare(threading.Event())
    assert store.prepared == [30]  # the retention setting reached the store, once


def test_prepare_gives_up_when_stopped_while_the_database_is_down(store: FakeStore) -> None:
    store.failures["prepare"] = 10**6
    ingest = build(store, StubSource(may_block=True))
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()

    began = time.monotonic()
    assert not ingest.prepare(stop)
    assert time.monotonic() - began < 5  # the wait ends with `stop`, not after the backoff
    assert store.prepared == []


@pytest.mark.parametrize("may_block", [True, False])
def test_the_source_gets_the_sink_its_port_declares(
    store: FakeStore, started: list[Ingest], may_block: bool
) -> None:
    source = StubSource(may_block=may_block)
    ingest = build(store, source)
    started.append(ingest.start(publisher_wait_s=0.1))

    # A network thread (MQTT) must never wait in the sink; pollers (SQS) may: back-pressure.
    expected = ingest.pipeline.submit_many if may_block else ingest.pipeline.enqueue_many
    assert source.sink == expected


def test_disconnects_metric_reads_the_source(store: FakeStore) -> None:
    source = StubSource(may_block=False, disconnects=2)
    ingest = build(store, source)
    registry = ingest.metrics.registry

    assert registry.get_sample_value("msm_ingest_mqtt_disconnects") == 2
    source.disconnects = 5  # read when scraped, not copied at start
    assert registry.get_sample_value("msm_ingest_mqtt_disconnects") == 5
