"""`msm-api`: the API under gunicorn (gthread workers), bound to MSM_BIND_HOST:MSM_API_PORT."""

from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
from typing import Any

from gunicorn.app.base import BaseApplication
from msm_common.logs import configure_logging
from msm_common.settings import SettingsError

from msm_api.security import keys
from msm_api.settings import ApiSettings

log = logging.getLogger("msm_api")


def _child_exit(_server: Any, worker: Any) -> None:
    # Imported late: prometheus_client picks its multiprocess mode when first imported.
    from prometheus_client import multiprocess  # noqa: PLC0415

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


class GunicornApp(BaseApplication):  # type: ignore[misc]
    """Each worker builds its own app after the fork: no client or thread crosses a fork."""

    def __init__(self, settings: ApiSettings, options: dict[str, Any]) -> None:
        self._settings = settings
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from msm_api.app import create_app  # noqa: PLC0415 - after PROMETHEUS_MULTIPROC_DIR

        return create_app(self._settings)


def gunicorn_options(settings: ApiSettings) -> dict[str, Any]:
    return {
        "bind": f"{settings.bind_host}:{settings.api_port}",
        "workers": settings.gunicorn_workers,
        "worker_class": "gthread",
        "threads": settings.threads,
        "graceful_timeout": settings.graceful_timeout_s,
        "timeout": 60,
        "keepalive": 5,
        "backlog": 2048,
        "preload_app": False,
        "child_exit": _child_exit,
        "proc_name": settings.service_name,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": settings.log_level.lower(),
    }


def main() -> None:
    try:
        settings = ApiSettings()
        configure_logging(settings.service_name, settings.log_level)
        key = keys.for_settings(settings)  # generated (locally) before the workers fork: one key
    except SettingsError as exc:
        print(f"msm-api: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc
    metrics_dir = tempfile.mkdtemp(prefix="msm-api-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    base = f"http://{settings.bind_host}:{settings.api_port}"
    log.info("msm-api on %s (%s signing key %s)", base, key.algorithm, key.kid)
    if not settings.is_production and settings.admin_email:
        log.info(
            "log in: curl -s -X POST %s/api/auth/login -H 'Content-Type: application/json' "
            '-d \'{"email": "%s", "password": "$MSM_ADMIN_PASSWORD"}\'',
            base,
            settings.admin_email,
        )
    try:
        GunicornApp(settings, gunicorn_options(settings)).run()
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
