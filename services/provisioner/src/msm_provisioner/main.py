"""`msm-provisioner`: `serve` (default) the hook and admin API; `setup [--dry-run]` the AWS IoT
side; `allowlist import <csv>` a factory manifest."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from msm_common.adapters import mongo
from msm_common.entrypoint import load_settings

from msm_provisioner import setup as aws_setup
from msm_provisioner.adapters.registry import iot_client
from msm_provisioner.adapters.store import Store
from msm_provisioner.handlers.allowlist import import_manifest, seed_allowlist
from msm_provisioner.handlers.errors import ManifestRejected
from msm_provisioner.settings import ProvisionerSettings

log = logging.getLogger("msm_provisioner")
# Nothing imported here may import prometheus_client: `serve` sets PROMETHEUS_MULTIPROC_DIR
# first, and prometheus_client picks its value class when first imported.


def utcnow() -> datetime:
    return datetime.now(UTC)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="msm-provisioner", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command")
    sub.add_parser("serve", help="run the hook and admin API under gunicorn (default)")
    setup = sub.add_parser("setup", help="create or update the AWS IoT resources")
    setup.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    allow = sub.add_parser("allowlist", help="manage the provisioning allowlist")
    allow_sub = allow.add_subparsers(dest="allowlist_command", required=True)
    imp = allow_sub.add_parser("import", help="import a factory manifest CSV (idempotent)")
    imp.add_argument("csv", type=Path)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    settings = load_settings(ProvisionerSettings, "msm-provisioner")
    if args.command == "setup":
        return cmd_setup(settings, dry_run=args.dry_run)
    if args.command == "allowlist":
        return cmd_import(settings, args.csv)
    return cmd_serve(settings)


def cmd_setup(settings: ProvisionerSettings, *, dry_run: bool) -> int:
    setup = aws_setup.Setup(
        aws_setup.SetupConfig.from_settings(settings),
        iot_client(settings.aws_endpoint_url, settings.aws_region),
    )
    try:
        _steps, lines = aws_setup.run(setup, dry_run=dry_run)
    except aws_setup.SetupErrors as exc:
        print(f"msm-provisioner setup failed: {exc}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


def cmd_import(settings: ProvisionerSettings, path: Path) -> int:
    client = mongo.connect(settings.mongo_uri, app_name=settings.service_name)
    try:
        store = Store(client[settings.database_name])
        store.ensure_indexes()
        result = import_manifest(store, path.read_text(encoding="utf-8"), now=utcnow())
    except ManifestRejected as exc:
        for err in exc.errors:
            print(f"{path}:{err.line}: {err.detail}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"msm-provisioner: {exc}", file=sys.stderr)
        return 1
    finally:
        client.close()
    print(result.as_dict())
    return 0


def cmd_serve(settings: ProvisionerSettings) -> int:
    if settings.seed_allowlist_path is not None:
        client = mongo.connect(settings.mongo_uri, app_name=settings.service_name)
        try:
            store = Store(client[settings.database_name])
            store.ensure_indexes()
            log.info(seed_allowlist(settings, store, utcnow()))
        except (ManifestRejected, OSError) as exc:
            log.error("cannot seed the allowlist: %s", exc)
            return 1
        finally:
            client.close()  # before gunicorn forks: no client crosses a fork
    from msm_provisioner.server import serve  # noqa: PLC0415

    log.info(
        "msm-provisioner on http://%s:%d (hook: POST /hook)",
        settings.bind_host,
        settings.provisioner_port,
    )
    serve(settings)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
