"""Prometheus metrics of the provisioner (per app; gunicorn workers share them when
PROMETHEUS_MULTIPROC_DIR is set)."""

from __future__ import annotations

from msm_common import ops_server
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
)


class ProvisionerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.decisions = Counter(
            "msm_provisioner_hook_decisions_total",
            "Pre-provisioning hook decisions",
            ["outcome", "reason"],
            registry=self.registry,
        )
        self.hook_auth_failures = Counter(
            "msm_provisioner_hook_auth_failures_total",
            "Hook calls refused as unauthenticated",
            registry=self.registry,
        )
        self.lifecycle = Counter(
            "msm_provisioner_lifecycle_total",
            "Certificate lifecycle operations",
            ["operation"],
            registry=self.registry,
        )
        self.hook_latency = Histogram(
            "msm_provisioner_hook_seconds",
            "Time to answer the hook",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )

    def exposition(self) -> tuple[bytes, str]:
        return ops_server.exposition(self.registry), CONTENT_TYPE_LATEST
