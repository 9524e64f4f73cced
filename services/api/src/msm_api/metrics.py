"""Prometheus metrics of the API, per app; gunicorn workers share them via multiprocess mode and
the gunicorn master serves them on the ops port (MSM_METRICS_PORT), not on the API's port."""

from __future__ import annotations

import time

from flask import Flask, Response, g, request
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
)


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "msm_api_requests_total",
            "HTTP requests",
            ["method", "endpoint", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "msm_api_request_seconds",
            "HTTP request latency",
            ["endpoint"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )
        self.commands = Counter(
            "msm_api_commands_requested_total",
            "Command requests accepted",
            ["type"],
            registry=self.registry,
        )
        self.login_failures = Counter(
            "msm_api_login_failures_total",
            "Failed or throttled logins",
            ["reason"],
            registry=self.registry,
        )

    def init_app(self, app: Flask) -> None:
        @app.before_request
        def _start() -> None:
            g.started = time.perf_counter()

        @app.after_request
        def _count(resp: Response) -> Response:
            endpoint = request.url_rule.rule if request.url_rule is not None else "unmatched"
            self.requests.labels(request.method, endpoint, str(resp.status_code)).inc()
            started = g.get("started")
            if started is not None:
                self.latency.labels(endpoint).observe(time.perf_counter() - started)
            return resp
