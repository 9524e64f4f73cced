"""Prometheus metrics: every service exposes /metrics on its own port (or through its app)."""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, start_http_server


def serve_metrics(
    port: int, host: str = "127.0.0.1", registry: CollectorRegistry = REGISTRY
) -> None:
    """Expose the registry over HTTP on a background thread; port 0 disables it."""
    if port:
        start_http_server(port, addr=host, registry=registry)
