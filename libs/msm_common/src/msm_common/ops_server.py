"""A worker service's own HTTP port: `/metrics`, `/healthz` (alive) and `/readyz` (deps answer)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

from msm_common.health import Readiness
from msm_common.settings import CommonSettings


def exposition(registry: CollectorRegistry) -> bytes:
    """The registry's metrics; under gunicorn (PROMETHEUS_MULTIPROC_DIR set), all workers'."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry)


def serve(
    host: str,
    port: int,
    registry: CollectorRegistry | None,
    ready: Callable[[], Readiness],
    alive: Callable[[], bool],
    *,
    name: str = "ops",
) -> ThreadingHTTPServer:
    """Serve on a daemon thread; the caller shuts the returned server down. With no `registry`
    /metrics shows the multiprocess directory's figures (a gunicorn master, for its workers)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/metrics":
                body = (
                    generate_latest(registry)
                    if registry is not None
                    else exposition(CollectorRegistry())
                )
                self._send(200, body, CONTENT_TYPE_LATEST)
            elif self.path == "/healthz":
                ok = alive()
                self._send(200 if ok else 503, orjson.dumps({"alive": ok}), "application/json")
            elif self.path == "/readyz":
                state = ready()
                body = orjson.dumps(state.as_dict())
                self._send(200 if state.ready else 503, body, "application/json")
            else:
                self._send(404, b'{"error": "not found"}', "application/json")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return None  # probes every few seconds would drown the logs

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name=f"{name}-http", daemon=True).start()
    return server


def serve_configured(
    settings: CommonSettings,
    registry: CollectorRegistry,
    ready: Callable[[], Readiness],
    alive: Callable[[], bool],
    *,
    name: str,
) -> ThreadingHTTPServer | None:
    """`serve` on the settings' bind host and metrics port; None where that port is 0 (off)."""
    if not settings.metrics_port:
        return None
    return serve(settings.bind_host, settings.metrics_port, registry, ready, alive, name=name)
