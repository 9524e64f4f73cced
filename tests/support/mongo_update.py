"""The MongoDB update operators our in-memory fakes apply: $set, $push, $inc, $unset."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any


def apply_update(doc: dict[str, Any], update: Mapping[str, Any]) -> None:
    """Apply `update` to `doc` in place ($set and $unset take dotted paths)."""
    for path, value in (update.get("$set") or {}).items():
        *parents, last = path.split(".")
        target = doc
        for name in parents:
            target = target.setdefault(name, {})
        target[last] = copy.deepcopy(value)
    for name, value in (update.get("$push") or {}).items():
        doc.setdefault(name, []).append(copy.deepcopy(value))
    for name, value in (update.get("$inc") or {}).items():
        doc[name] = doc.get(name, 0) + value
    for path in update.get("$unset") or {}:
        *parents, last = path.split(".")
        target = doc
        for name in parents:
            target = target.get(name) or {}
        target.pop(last, None)
