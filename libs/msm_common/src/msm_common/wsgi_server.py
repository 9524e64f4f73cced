"""The launcher of MSM's HTTP services (msm-api, msm-provisioner): gunicorn, gthread workers.

Each worker builds its app after the fork, so no database client or thread crosses a fork.
Prometheus runs in multiprocess mode over a directory of the launcher's own, set before the
fork and removed when gunicorn stops; the master serves every worker's figures on an ops port
of its own (`/metrics`, never on the public port). Import this module only where gunicorn is
installed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from typing import Any, Protocol

from gunicorn.app.base import BaseApplication


def _child_exit(_server: Any, worker: Any) -> None:
    # Imported late: prometheus_client picks its multiprocess mode when first imported.
    from prometheus_client import multiprocess  # noqa: PLC0415

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


class GunicornApp(BaseApplication):  # type: ignore[misc]
    """gunicorn with its options from a dict and its app from `build()`, run in each worker."""

    def __init__(self, build: Callable[[], Any], options: dict[str, Any]) -> None:
        self._build = build
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self._build()


def _ops_server(address: tuple[str, int], name: str) -> Callable[[Any], None]:
    """A gunicorn `when_ready` hook: the master serves all workers' metrics on `address`."""

    def when_ready(arbiter: Any) -> None:
        # Imported here: the multiprocess directory is set by now (see `serve`).
        from msm_common import ops_server  # noqa: PLC0415
        from msm_common.health import Readiness  # noqa: PLC0415

        def ready() -> Readiness:
            workers = len(arbiter.WORKERS)
            return Readiness(workers > 0, {"workers": workers > 0})

        try:
            ops_server.serve(*address, None, ready, lambda: True, name=f"{name}-ops")
        except OSError as exc:  # the port is taken: say which setting, then stop
            where = "%s:%d" % address  # noqa: UP031 - a (host, port) tuple
            arbiter.log.error("cannot serve /metrics on %s (MSM_METRICS_PORT): %s", where, exc)
            raise

    return when_ready


def metrics_address(settings: Any) -> tuple[str, int] | None:
    """(host, port) of the service's ops port, or None when MSM_METRICS_PORT is 0."""
    port = int(getattr(settings, "metrics_port", 0) or 0)
    return (str(settings.bind_host), port) if port else None


class HttpSettings(Protocol):
    """What the launcher reads from a service's settings."""

    @property
    def bind_host(self) -> str: ...
    @property
    def threads(self) -> int: ...
    @property
    def graceful_timeout_s(self) -> float: ...
    @property
    def service_name(self) -> str: ...
    @property
    def log_level(self) -> str: ...


def gunicorn_options(
    settings: HttpSettings, *, port: int, workers: int, **extra: Any
) -> dict[str, Any]:
    """The options both services share; `extra` adds or overrides gunicorn settings."""
    return {
        "bind": f"{settings.bind_host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": settings.threads,
        "graceful_timeout": settings.graceful_timeout_s,
        "timeout": 60,
        "keepalive": 5,
        "preload_app": False,
        "child_exit": _child_exit,
        "proc_name": settings.service_name,
        # gunicorn 27's control socket is one path per user: two services would share it.
        "control_socket_disable": True,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": settings.log_level.lower(),
        **extra,
    }


def serve(
    build: Callable[[], Any],
    options: dict[str, Any],
    *,
    name: str,
    metrics: tuple[str, int] | None = None,
) -> None:
    """Run gunicorn until it stops, with a Prometheus multiprocess directory of its own and,
    given `metrics` (host, port), the workers' figures served there by the master."""
    metrics_dir = tempfile.mkdtemp(prefix=f"{name}-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    if metrics is not None:
        options = {**options, "when_ready": _ops_server(metrics, name)}
    try:
        GunicornApp(build, options).run()
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
