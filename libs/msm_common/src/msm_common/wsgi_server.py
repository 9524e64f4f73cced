"""The launcher of MSM's HTTP services (msm-api, msm-provisioner): gunicorn, gthread workers.

Each worker builds its app after the fork, so no database client or thread crosses a fork.
Prometheus runs in multiprocess mode over a directory of the launcher's own, set before the
fork and removed when gunicorn stops. Import this module only where gunicorn is installed.
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


def serve(build: Callable[[], Any], options: dict[str, Any], *, name: str) -> None:
    """Run gunicorn until it stops, with a Prometheus multiprocess directory of its own."""
    metrics_dir = tempfile.mkdtemp(prefix=f"{name}-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    try:
        GunicornApp(build, options).run()
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
