"""Prometheus metrics of one ingest instance (its own registry: tests build several)."""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class IngestMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.messages = Counter(
            "msm_ingest_messages_total",
            "Messages by kind and outcome (stored, duplicate, rejected, stale, skipped, ...)",
            ["kind", "outcome"],
            registry=r,
        )
        self.rejected = Counter(
            "msm_ingest_rejected_total", "Quarantined messages by reason", ["reason"], registry=r
        )
        self.readings = Counter(
            "msm_ingest_readings_total", "Telemetry readings by outcome", ["outcome"], registry=r
        )
        self.batch_size = Histogram(
            "msm_ingest_batch_size",
            "Messages per batch",
            buckets=(1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000),
            registry=r,
        )
        self.write_seconds = Histogram(
            "msm_ingest_write_seconds",
            "Database write latency per batch step",
            ["step"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.store_retries = Counter(
            "msm_ingest_store_retries_total", "Database writes retried after a failure", registry=r
        )
        self.events = Counter(
            "msm_ingest_events_total",
            "Events by outcome (confirmed; outboxed: not confirmed in time, left to recovery)",
            ["outcome"],
            registry=r,
        )
        self.events_unconfirmed = Gauge(
            "msm_ingest_events_unconfirmed", "Events published and not yet settled", registry=r
        )
        self.outbox_entries = Gauge(
            "msm_ingest_outbox_entries",
            "Batches whose events still wait for a confirm (outbox entries, all replicas)",
            registry=r,
        )
        self.events_republished = Counter(
            "msm_ingest_events_republished_total",
            "Events republished from the outbox (own: this process's; orphan: another's)",
            ["kind"],
            registry=r,
        )
        self.device_writes = Counter(
            "msm_ingest_device_state_writes_total",
            "Coalesced device state writes (last_seen, latest readings)",
            registry=r,
        )
        self.device_state_waiting = Gauge(
            "msm_ingest_device_state_waiting",
            "Devices whose coalesced state waits for its next write",
            registry=r,
        )
        self.mqtt_disconnects = Gauge(
            "msm_ingest_mqtt_disconnects",
            "MQTT connections lost since start (keep-alive timeouts included)",
            registry=r,
        )
        self.queue_depth = Gauge(
            "msm_ingest_queue_depth", "Deliveries waiting for the pipeline", registry=r
        )
        self.shadow_updates = Counter(
            "msm_ingest_shadow_updates_total", "Shadow updates by outcome", ["outcome"], registry=r
        )
        self.shadow_waiting = Gauge(
            "msm_ingest_shadow_waiting", "Devices with a shadow update waiting", registry=r
        )

    def count_messages(self, outcomes: Mapping[tuple[str, str], int]) -> None:
        for (kind, outcome), n in outcomes.items():
            self.messages.labels(kind, outcome).inc(n)

    def count_rejected(self, reasons: Mapping[str, int]) -> None:
        for reason, n in reasons.items():
            self.rejected.labels(reason).inc(n)
