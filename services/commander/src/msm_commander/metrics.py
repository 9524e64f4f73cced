"""Prometheus metrics of the commander, on a registry of its own (one per bootstrap)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class CommanderMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.finished = Counter(
            "msm_commander_commands_total",
            "Commands that reached a final state, by type and state",
            ["type", "status"],
            registry=r,
        )
        self.sends = Counter(
            "msm_commander_sends_total",
            "Commands published to devices (first sends and resends)",
            ["type", "attempt"],
            registry=r,
        )
        self.acks = Counter(
            "msm_commander_acks_total",
            "Acknowledgements received, by status and what became of them",
            ["status", "outcome"],
            registry=r,
        )
        self.in_flight = Gauge(
            "msm_commander_in_flight",
            "Commands sent and waiting for an acknowledgement (all replicas)",
            registry=r,
        )
        self.ack_latency = Histogram(
            "msm_commander_ack_latency_seconds",
            "From publishing a command (its latest attempt) to its final acknowledgement",
            ["type"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
            registry=r,
        )
        self.requests = Counter(
            "msm_commander_requests_total",
            "Command requests consumed, by outcome",
            ["outcome"],
            registry=r,
        )
        self.publish_failures = Counter(
            "msm_commander_publish_failures_total",
            "MQTT publishes the broker did not acknowledge in time",
            registry=r,
        )
