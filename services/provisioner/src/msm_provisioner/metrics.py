"""Prometheus metrics of the provisioner (per app; gunicorn workers share them when
PROMETHEUS_MULTIPROC_DIR is set)."""

from __future__ import annotations

from msm_common.service_metrics import ServiceMetrics


class ProvisionerMetrics(ServiceMetrics):
    def __init__(self) -> None:
        super().__init__()
        self.decisions = self.counter(
            "msm_provisioner_hook_decisions_total",
            "Pre-provisioning hook decisions",
            ["outcome", "reason"],
        )
        self.hook_auth_failures = self.counter(
            "msm_provisioner_hook_auth_failures_total", "Hook calls refused as unauthenticated"
        )
        self.lifecycle = self.counter(
            "msm_provisioner_lifecycle_total", "Certificate lifecycle operations", ["operation"]
        )
        self.hook_latency = self.latency_histogram(
            "msm_provisioner_hook_seconds", "Time to answer the hook"
        )
