"""Prometheus metrics of the API, per app; gunicorn workers share them via multiprocess mode and
the gunicorn master serves them on the ops port (MSM_METRICS_PORT), not on the API's port."""

from __future__ import annotations

import time

from flask import Flask, Response, g, request
from msm_common.service_metrics import ServiceMetrics


class ApiMetrics(ServiceMetrics):
    def __init__(self) -> None:
        super().__init__()
        self.requests = self.counter(
            "msm_api_requests_total", "HTTP requests", ["method", "endpoint", "status"]
        )
        self.latency = self.latency_histogram(
            "msm_api_request_seconds", "HTTP request latency", ["endpoint"]
        )
        self.commands = self.counter(
            "msm_api_commands_requested_total", "Command requests accepted", ["type"]
        )
        self.login_failures = self.counter(
            "msm_api_login_failures_total", "Failed or throttled logins", ["reason"]
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
