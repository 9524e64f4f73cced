"""`msm-ingest`: run ingest until SIGTERM/SIGINT, then drain and exit (within 10 s)."""

from __future__ import annotations

import logging
import sys

from msm_common import ops_server
from msm_common.entrypoint import load_settings
from msm_common.signals import stop_on_signals

from msm_ingest.bootstrap import bootstrap, tune_gc
from msm_ingest.settings import IngestSettings

log = logging.getLogger("msm_ingest")


def main() -> int:
    settings = load_settings(IngestSettings, "msm-ingest")
    stop = stop_on_signals()
    ingest = bootstrap(settings)
    server = ops_server.serve_configured(
        settings, ingest.metrics.registry, ingest.readiness, lambda: ingest.alive, name="ingest"
    )
    try:
        if not ingest.prepare(stop):
            return 0
        tune_gc()
        ingest.start()
        log.info(
            "ingest running",
            extra={"source": settings.source, "client_id": settings.client_id_base},
        )
        failed = False
        while not stop.wait(1.0):  # the main thread only waits for a signal or a dead worker
            if not ingest.alive:
                log.error("pipeline thread died; exiting so the supervisor restarts ingest")
                failed = True
                break
        if not ingest.stop():
            # Not an error: what was not acknowledged is delivered again after the restart.
            log.warning("shutdown deadline reached before everything in hand was acknowledged")
        return 1 if failed else 0
    finally:
        if server is not None:
            server.shutdown()


if __name__ == "__main__":
    sys.exit(main())
