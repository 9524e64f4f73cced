"""The HTTP side under gunicorn (gthread workers); each worker builds its app after the fork."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication

from msm_provisioner.settings import ProvisionerSettings


def _child_exit(_server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess  # noqa: PLC0415 - after PROMETHEUS_MULTIPROC_DIR

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def _worker_exit(_server: Any, worker: Any) -> None:
    app = getattr(worker, "wsgi", None)
    if app is not None and hasattr(app, "extensions"):
        from msm_provisioner.http.app import close_app  # noqa: PLC0415

        close_app(app)


class GunicornApp(BaseApplication):  # type: ignore[misc]
    def __init__(self, settings: ProvisionerSettings, options: dict[str, Any]) -> None:
        self._settings = settings
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from msm_provisioner.http.app import create_app  # noqa: PLC0415 - in the worker

        return create_app(self._settings)


def gunicorn_options(settings: ProvisionerSettings) -> dict[str, Any]:
    return {
        "bind": f"{settings.bind_host}:{settings.provisioner_port}",
        "workers": settings.workers,
        "worker_class": "gthread",
        "threads": settings.threads,
        "graceful_timeout": settings.graceful_timeout_s,
        "timeout": 60,
        "keepalive": 5,
        "preload_app": False,
        "child_exit": _child_exit,
        "worker_exit": _worker_exit,
        "proc_name": settings.service_name,
        # gunicorn 27's control socket is one path per user: two services would share it.
        "control_socket_disable": True,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": settings.log_level.lower(),
    }
