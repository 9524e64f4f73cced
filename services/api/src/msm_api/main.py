"""`msm-api`: the API under gunicorn (gthread workers), bound to MSM_BIND_HOST:MSM_API_PORT."""

from __future__ import annotations

import logging
import sys
from typing import Any

from msm_common import wsgi_server
from msm_common.logs import configure_logging
from msm_common.settings import SettingsError

from msm_api.security import keys
from msm_api.settings import ApiSettings

log = logging.getLogger("msm_api")


def _create_app(settings: ApiSettings) -> Any:
    from msm_api.app import create_app  # noqa: PLC0415 - in the worker, after the fork

    return create_app(settings)


def main() -> None:
    try:
        settings = ApiSettings()
        configure_logging(settings.service_name, settings.log_level)
        key = keys.for_settings(settings)  # generated (locally) before the workers fork: one key
    except SettingsError as exc:
        print(f"msm-api: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc
    base = f"http://{settings.bind_host}:{settings.api_port}"
    log.info("msm-api on %s (%s signing key %s)", base, key.algorithm, key.kid)
    if not settings.is_production and settings.admin_email:
        log.info(
            "log in: curl -s -X POST %s/api/auth/login -H 'Content-Type: application/json' "
            '-d \'{"email": "%s", "password": "$MSM_ADMIN_PASSWORD"}\'',
            base,
            settings.admin_email,
        )
    options = wsgi_server.gunicorn_options(
        settings, port=settings.api_port, workers=settings.gunicorn_workers, backlog=2048
    )
    wsgi_server.serve(lambda: _create_app(settings), options, name="msm-api")


if __name__ == "__main__":
    main()
