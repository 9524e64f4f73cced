"""Secrets never leave the API: `password` becomes `password_set: true`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from msm_common.contracts.commands import SECRET_FIELDS


def redact(kind: str, values: Mapping[str, Any], *, purged: bool = False) -> dict[str, Any]:
    """A copy of `values` without the secret fields of `kind`, flagging those that were set.

    `purged`: the secrets were required and since removed (a finished command): they were set.
    """
    hidden = SECRET_FIELDS.get(kind, frozenset())
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key in hidden:
            if value:
                out[f"{key}_set"] = True
        else:
            out[key] = value
    for key in hidden:
        out.setdefault(f"{key}_set", purged)
    return out
