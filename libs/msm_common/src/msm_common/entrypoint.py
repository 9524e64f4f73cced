"""The start of every service's command line: its settings read and its logging configured."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TypeVar

from pydantic import ValidationError

from msm_common.logs import configure_logging
from msm_common.settings import CommonSettings, SettingsError

S = TypeVar("S", bound=CommonSettings)


def load_settings(read: Callable[[], S], prog: str) -> S:
    """`read()` (the service's settings class) with logging configured from it; a setting it
    refuses is one line on stderr and exit status 2."""
    try:
        settings = read()
    except (SettingsError, ValidationError) as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc
    configure_logging(settings.service_name, settings.log_level)
    return settings
