"""The images' HEALTHCHECK: GET /healthz on the port the service's own settings name.

    python3 healthcheck.py msm_api.settings:ApiSettings api_port
    python3 healthcheck.py msm_localiot.settings:LocaliotSettings http_address
    python3 healthcheck.py      # the two from MSM_HEALTHZ_PORT_SETTING (set by each image)

The port comes from the same settings object (and `MSM_*` variables) the service reads, so a
port moved by configuration is still the one probed. Exit 0 when /healthz answers 200.
"""

from __future__ import annotations

import importlib
import os
import sys
import urllib.request

PORT_SETTING = "MSM_HEALTHZ_PORT_SETTING"  # "<module>:<settings class> <attribute>"


def port_of(settings_class: str, attribute: str) -> int:
    module, _, name = settings_class.partition(":")
    settings = getattr(importlib.import_module(module), name)()
    value = getattr(settings, attribute)
    return int(value[1] if isinstance(value, tuple) else value)  # (host, port) or port


def main(argv: list[str]) -> int:
    settings_class, attribute = argv[1:3] if len(argv) > 1 else os.environ[PORT_SETTING].split()
    port = port_of(settings_class, attribute)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=3) as answer:
            return 0 if answer.status == 200 else 1
    except OSError as exc:
        print(f"healthz on port {port}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
