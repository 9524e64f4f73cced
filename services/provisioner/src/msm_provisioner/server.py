"""The HTTP side under gunicorn, through msm_common's launcher; each worker builds its app."""

from __future__ import annotations

from typing import Any

from msm_common import wsgi_server

from msm_provisioner.settings import ProvisionerSettings


def _worker_exit(_server: Any, worker: Any) -> None:
    app = getattr(worker, "wsgi", None)
    if app is not None and hasattr(app, "extensions"):
        from msm_provisioner.http.app import close_app  # noqa: PLC0415

        close_app(app)


def serve(settings: ProvisionerSettings) -> None:
    def build() -> Any:
        from msm_provisioner.http.app import create_app  # noqa: PLC0415 - in the worker

        return create_app(settings)

    options = wsgi_server.gunicorn_options(
        settings, port=settings.provisioner_port, workers=settings.workers, worker_exit=_worker_exit
    )
    wsgi_server.serve(
        build, options, name="msm-provisioner", metrics=wsgi_server.metrics_address(settings)
    )
