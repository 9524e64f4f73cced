"""`msm-localiot`: run the AWS IoT Core stand-in until SIGTERM / SIGINT, then stop gracefully."""

from __future__ import annotations

import logging
import signal
import threading

from msm_common.logs import configure_logging

from .bootstrap import bootstrap
from .settings import LocaliotSettings

log = logging.getLogger(__name__)


def main() -> int:
    settings = LocaliotSettings()
    configure_logging(settings.service_name, settings.log_level)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    app = bootstrap(settings).start()
    stop.wait()
    log.info("signal received, stopping")
    app.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
