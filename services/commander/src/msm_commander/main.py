"""`msm-commander`: consume command requests, acks and presence; deliver, retry, expire."""

from __future__ import annotations

import logging
import sys

from msm_common import ops_server, secrets
from msm_common.adapters import mongo
from msm_common.entrypoint import load_settings
from msm_common.signals import stop_on_signals

from msm_commander.bootstrap import bootstrap
from msm_commander.reencrypt import reencrypt
from msm_commander.settings import CommanderSettings

log = logging.getLogger("msm_commander")


def reencrypt_secrets(settings: CommanderSettings) -> int:
    """Every stored device secret sealed again under the current key (after a rotation)."""
    client = mongo.connect(settings.mongo_uri, app_name=f"{settings.service_name}-reencrypt")
    try:
        done = reencrypt(client[settings.database_name], secrets.box_for(settings))
    finally:
        client.close()
    print(f"re-encrypted {done.values} secret(s); {done.failed} could not be opened")
    return 1 if done.failed else 0


def main() -> None:
    settings = load_settings(CommanderSettings, "msm-commander")
    if sys.argv[1:] == ["reencrypt-secrets"]:
        raise SystemExit(reencrypt_secrets(settings))
    if sys.argv[1:]:
        print("usage: msm-commander [reencrypt-secrets]", file=sys.stderr)
        raise SystemExit(2)
    commander = bootstrap(settings)
    server = ops_server.serve_configured(
        settings, commander.metrics.registry, commander.readiness, commander.alive, name="commander"
    )
    stop = stop_on_signals()
    commander.start()
    log.info(
        "msm-commander started: ack timeout %.1fs, %d attempts, %d consumers, metrics on %s:%d",
        settings.ack_timeout_s,
        settings.max_attempts,
        settings.consumers,
        settings.bind_host,
        settings.metrics_port,
    )
    while not stop.wait(1.0):
        if not commander.alive():
            log.error("a worker thread died or the ticks keep failing; exiting to be restarted")
            break
    commander.stop()
    if server is not None:
        server.shutdown()
    log.info("msm-commander stopped")


if __name__ == "__main__":
    main()
