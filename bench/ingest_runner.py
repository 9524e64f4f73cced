"""msm-ingest with its database writes swapped for a no-op store: the pipeline's own ceiling.

Only for bench_ingest (d). Everything else is the real service: MQTT source, parsing, batching,
events to RabbitMQ with confirms, acknowledgements.
"""

from __future__ import annotations

import signal
import sys
import threading

from msm_common import ops_server
from msm_common.logs import configure_logging
from msm_ingest.adapters.null_store import NullStore
from msm_ingest.bootstrap import bootstrap, tune_gc
from msm_ingest.settings import IngestSettings


def main() -> int:
    settings = IngestSettings()
    configure_logging(settings.service_name, settings.log_level)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    ingest = bootstrap(settings, store=NullStore())
    server = ops_server.serve(
        settings.bind_host,
        settings.metrics_port,
        ingest.metrics.registry,
        ingest.readiness,
        lambda: ingest.alive,
    )
    tune_gc()  # as msm-ingest's main does
    ingest.start()
    stop.wait()
    ingest.stop()
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
