"""`msm-localiot`: run the AWS IoT Core stand-in until SIGTERM / SIGINT, then stop gracefully."""

from __future__ import annotations

from msm_common.entrypoint import load_settings
from msm_common.signals import stop_on_signals

from .bootstrap import bootstrap
from .settings import LocaliotSettings


def main() -> int:
    settings = load_settings(LocaliotSettings, "msm-localiot")
    stop = stop_on_signals()
    app = bootstrap(settings).start()
    stop.wait()
    app.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
