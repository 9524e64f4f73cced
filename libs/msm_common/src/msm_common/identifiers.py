"""Identifiers and their patterns, written once: device uuid (= AWS IoT thing name), command id.

`*_PATTERN` is the anchored form for JSON Schema / pydantic `pattern=`; `*_RE` the compiled
form for `fullmatch`. Imports nothing of ours, so every module may use it.
"""

from __future__ import annotations

import re
from typing import Final

# AWS IoT thing-name charset; the thing name is the device uuid.
THING_NAME_CHARS: Final = "[A-Za-z0-9_:-]"
THING_NAME_RE: Final = re.compile(f"{THING_NAME_CHARS}{{1,128}}")
THING_NAME_PATTERN: Final = f"^{THING_NAME_RE.pattern}$"
# A named shadow's name: the same charset, shorter.
SHADOW_NAME_RE: Final = re.compile(f"{THING_NAME_CHARS}{{1,64}}")
# Command ids: what the API generates (hex) and what other producers may use, dots allowed.
COMMAND_ID_RE: Final = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
COMMAND_ID_PATTERN: Final = f"^{COMMAND_ID_RE.pattern}$"


def is_thing_name(value: str) -> bool:
    """True when `value` is a valid AWS IoT thing name (and so a valid device uuid)."""
    return THING_NAME_RE.fullmatch(value) is not None


def is_command_id(value: str) -> bool:
    return COMMAND_ID_RE.fullmatch(value) is not None
