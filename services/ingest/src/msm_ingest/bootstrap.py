"""The composition root: settings in, a runnable ingest out. Nothing connects at import."""

from __future__ import annotations

import gc
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from msm_common.adapters import mongo
from msm_common.health import Readiness, readiness
from msm_common.retry import Backoff, retry_call
from pymongo.database import Database

from msm_ingest.adapters.event_publisher import AmqpEventPublisher
from msm_ingest.adapters.mongo_store import MongoStore
from msm_ingest.adapters.mqtt_source import MqttSource, MqttSourceConfig
from msm_ingest.adapters.shadow_client import IotDataShadowClient
from msm_ingest.adapters.sqs_source import SqsSource
from msm_ingest.batch_writer import BatchWriter
from msm_ingest.domain.device_state import DeviceStateCoalescer
from msm_ingest.metrics import IngestMetrics
from msm_ingest.pipeline import Pipeline, PipelineConfig
from msm_ingest.ports import EventPublisher, ShadowClient, Source, Store
from msm_ingest.recovery import Recovery
from msm_ingest.settings import IngestSettings
from msm_ingest.shadow import ShadowUpdater

log = logging.getLogger(__name__)
PREPARE_BACKOFF = Backoff(initial_s=0.5, max_s=10.0)


def utcnow() -> datetime:
    return datetime.now(UTC)


def build_source(settings: IngestSettings) -> Source:
    if settings.source == "sqs":
        return SqsSource(
            settings.sqs_queue_url,
            endpoint_url=settings.aws_endpoint_url,
            region=settings.aws_region,
            pollers=settings.sqs_pollers,
            wait_s=settings.sqs_wait_s,
        )
    return MqttSource(
        MqttSourceConfig(
            host=settings.mqtt_host,
            port=settings.mqtt_port,
            ca_file=settings.mqtt_ca_file,
            cert_file=settings.mqtt_cert_file,
            key_file=settings.mqtt_key_file,
            client_id=settings.client_id_base,
            shared_group=settings.shared_group,
            connections=settings.mqtt_connections,
            session_expiry_s=settings.session_expiry_s,
            receive_maximum=settings.receive_maximum,
            keepalive_s=settings.mqtt_keepalive_s,
            devices=settings.device_segments,
        )
    )


def tune_gc() -> None:
    """Run the cyclic garbage collector less often; for the service's own process only.

    The worker allocates thousands of short-lived dicts per batch (rows, events, commands)
    and none of them is part of a cycle: reference counting frees them all. With the default
    threshold (700 allocations) the collector still ran ~65 times per 1,000 messages and cost
    a quarter of the worker's CPU (bench_ingest_parts (2): 22.5 -> 17.1 CPU-us per message).
    What exists at start-up (modules, settings, clients) is frozen out of collections first.
    """
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)


@dataclass
class Ingest:
    """A wired ingest: start it, stop it, ask whether it is ready."""

    settings: IngestSettings
    metrics: IngestMetrics
    store: Store
    publisher: EventPublisher
    source: Source
    pipeline: Pipeline
    recovery: Recovery
    shadow: ShadowUpdater | None
    closers: list[Callable[[], None]] = field(default_factory=list)

    def prepare(self, stop: threading.Event) -> bool:
        """Create indexes, retrying while the database is unreachable; False if stopped first."""
        try:
            retry_call(
                lambda: self.store.prepare(self.settings.telemetry_retention_days),
                on=Exception,  # start-up boundary: retry whatever it is, never crash-loop
                backoff=PREPARE_BACKOFF,
                stop=stop,
                what="database set-up (not ready?)",
                logger=log,
            )
        except Exception:  # noqa: BLE001 - `stop` was set while it was still failing
            return False
        return True

    def start(self, publisher_wait_s: float = 5.0) -> Ingest:
        self.publisher.start(publisher_wait_s)
        if self.shadow is not None:
            self.shadow.start()
        self.pipeline.start()
        self.recovery.start()
        pipeline = self.pipeline
        self.source.start(
            pipeline.submit_many if self.source.sink_may_block else pipeline.enqueue_many
        )
        return self

    def stop(self, timeout: float | None = None) -> bool:
        """Stop taking messages, flush and acknowledge what is in hand, close everything."""
        budget = self.settings.shutdown_timeout_s if timeout is None else timeout
        started = time.monotonic()
        self.source.pause()
        self.recovery.stop(timeout=0.0)
        drained = self.pipeline.stop(max(0.5, budget - 1.5))
        self.source.stop()
        self.recovery.stop(timeout=0.5)
        if self.shadow is not None:
            self.shadow.stop(timeout=0.5)
        self.publisher.close()
        for close in self.closers:
            close()
        log.info("ingest stopped in %.1fs (drained: %s)", time.monotonic() - started, drained)
        return drained

    @property
    def alive(self) -> bool:
        return self.pipeline.alive

    def readiness(self) -> Readiness:
        return readiness(
            {
                "source": self.source.ready,
                "database": self.store.ping,
                "events": lambda: self.publisher.ready,
                "pipeline": lambda: self.pipeline.alive,
            }
        )


def bootstrap(
    settings: IngestSettings,
    *,
    metrics: IngestMetrics | None = None,
    clock: Callable[[], datetime] | None = None,
    mono: Callable[[], float] | None = None,
    db: Database[dict[str, Any]] | None = None,
    store: Store | None = None,
    publisher: EventPublisher | None = None,
    source: Source | None = None,
    shadow_client: ShadowClient | None = None,
) -> Ingest:
    """Build ingest from settings; each keyword replaces one part (tests pass fakes)."""
    metrics = metrics or IngestMetrics()
    clock = clock or utcnow
    closers: list[Callable[[], None]] = []
    if store is None:
        if db is None:
            client = mongo.connect(
                settings.mongo_uri,
                app_name=settings.service_name,
                timeout_ms=settings.mongo_timeout_ms,
            )
            closers.append(client.close)
            db = client[settings.database_name]
        store = MongoStore(db)
    publisher = publisher or AmqpEventPublisher(settings.amqp_url, name=settings.service_name)
    source = source or build_source(settings)
    metrics.mqtt_disconnects.set_function(lambda: float(source.disconnects))
    shadow = None
    if settings.shadow_enabled:
        shadow = ShadowUpdater(
            shadow_client or IotDataShadowClient(settings.iot_data_endpoint, settings.aws_region),
            metrics,
            min_interval_s=settings.shadow_min_interval_s,
        )
    owner = f"{settings.client_id_base}-{uuid.uuid4().hex[:8]}"
    writer = BatchWriter(
        store,
        publisher,
        metrics,
        clock=clock,
        mono=mono or time.monotonic,
        event_source=settings.event_source,
        shadow=shadow,
        device_state=DeviceStateCoalescer(settings.device_state_interval_s),
        owner=owner,
    )
    recovery = Recovery(
        store,
        publisher,
        metrics,
        owner=owner,
        clock=clock,
        interval_s=settings.recovery_interval_s,
        grace_s=settings.recovery_grace_s,
        confirm_timeout_s=settings.confirm_timeout_s,
        event_source=settings.event_source,
    )
    config = PipelineConfig(
        batch_max=settings.batch_max,
        batch_max_wait_s=settings.batch_max_wait_ms / 1000,
        queue_max=settings.effective_queue_max,
        outbox_after_s=settings.outbox_after_ms / 1000,
        require_known_device=settings.require_known_device,
        payload_cap=settings.quarantine_payload_max,
    )
    pipeline = Pipeline(
        writer,
        metrics,
        config,
        flush_acks=source.flush_acks,
        on_outbox=lambda settled, published: recovery.hold(
            settled.entry, published.confirmation, settled.positions
        ),
    )
    return Ingest(settings, metrics, store, publisher, source, pipeline, recovery, shadow, closers)
