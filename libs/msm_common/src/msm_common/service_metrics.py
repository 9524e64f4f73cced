"""A service's Prometheus metrics in a registry of its own (one per app, so tests can build
many); under gunicorn the workers' values are merged at exposition (`ops_server.exposition`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram

from msm_common import ops_server

# Seconds, for request and handler latencies: 5 ms to 5 s.
LATENCY_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)


class ServiceMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()

    def counter(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Counter:
        return Counter(name, documentation, labels, registry=self.registry)

    def latency_histogram(
        self, name: str, documentation: str, labels: Sequence[str] = ()
    ) -> Histogram:
        return Histogram(
            name, documentation, labels, buckets=LATENCY_BUCKETS, registry=self.registry
        )

    def exposition(self) -> tuple[bytes, str]:
        """The metrics in Prometheus' text format, and its content type."""
        return ops_server.exposition(self.registry), CONTENT_TYPE_LATEST
