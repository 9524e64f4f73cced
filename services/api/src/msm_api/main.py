"""`msm-api`: `serve` (default) the API under gunicorn (gthread workers) on
MSM_BIND_HOST:MSM_API_PORT, its /metrics on MSM_METRICS_PORT; `create-admin` restores an admin."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from msm_common.entrypoint import load_settings
from msm_common.settings import SettingsError

from msm_api.settings import ApiSettings

log = logging.getLogger("msm_api")
# Nothing imported here may import prometheus_client: `serve` sets PROMETHEUS_MULTIPROC_DIR
# first, and prometheus_client picks its value class when first imported.


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="msm-api", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command")
    sub.add_parser("serve", help="run the API under gunicorn (default)")
    admin = sub.add_parser(
        "create-admin",
        help="create an admin, or restore an account as an enabled admin with a new password",
    )
    admin.add_argument("--username", help="default: MSM_API_ADMIN_USERNAME")
    admin.add_argument("--email", help="default: MSM_API_ADMIN_EMAIL (needed to create)")
    admin.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin's first line"
    )
    return p


def _create_app(settings: ApiSettings) -> Any:
    from msm_api.app import create_app  # noqa: PLC0415 - in the worker, after the fork

    return create_app(settings)


def cmd_create_admin(settings: ApiSettings, args: argparse.Namespace) -> int:
    from msm_api import recovery  # noqa: PLC0415

    try:
        password = recovery.read_password(args.password_stdin, given=settings.admin_password)
        print(
            recovery.run(
                settings,
                username=args.username,
                email=args.email,
                password=password,
                now=datetime.now(UTC),
            )
        )
    except recovery.RecoveryError as exc:
        print(f"msm-api create-admin: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_serve(settings: ApiSettings) -> int:
    from msm_common import wsgi_server  # noqa: PLC0415 - gunicorn only where it serves

    from msm_api.security import keys  # noqa: PLC0415

    try:
        key = keys.for_settings(settings)  # generated (locally) before the workers fork: one key
        ring = keys.ring_for_settings(settings, key)
    except SettingsError as exc:
        print(f"msm-api: {exc}", file=sys.stderr)
        return 2
    base = f"http://{settings.bind_host}:{settings.api_port}"
    log.info(
        "msm-api on %s (%s signing key %s, %d verifying keys)",
        base,
        key.algorithm,
        key.kid,
        len(ring.keys),
    )
    if not settings.is_production and settings.admin_email:
        log.info(
            "log in: curl -s -X POST %s/api/auth/login -H 'Content-Type: application/json' "
            '-d \'{"email": "%s", "password": "$MSM_API_ADMIN_PASSWORD"}\'',
            base,
            settings.admin_email,
        )
    options = wsgi_server.gunicorn_options(
        settings, port=settings.api_port, workers=settings.gunicorn_workers, backlog=2048
    )
    wsgi_server.serve(
        lambda: _create_app(settings),
        options,
        name="msm-api",
        metrics=wsgi_server.metrics_address(settings),
    )
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    args = parser().parse_args(argv)
    settings = load_settings(ApiSettings, "msm-api")
    if args.command == "create-admin":
        raise SystemExit(cmd_create_admin(settings, args))
    raise SystemExit(cmd_serve(settings))


if __name__ == "__main__":
    main()
