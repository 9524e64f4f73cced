"""Helpers for the Device Shadow rule tables: apply documents, expect a result."""

from __future__ import annotations

import json
from typing import Any

from msm_localiot.shadow.engine import apply_update
from msm_localiot.shadow.model import Rejected, Shadow, Updated

T0 = 1_700_000_000


def body(doc: Any) -> bytes:
    return json.dumps(doc).encode()


def update(current: Shadow | None, doc: Any, now: int = T0) -> Updated:
    result = apply_update(current, body(doc) if not isinstance(doc, bytes) else doc, now)
    assert isinstance(result, Updated), result
    return result


def rejected(current: Shadow | None, payload: bytes, now: int = T0) -> Rejected:
    result = apply_update(current, payload, now)
    assert isinstance(result, Rejected), result
    return result


def build(*docs: dict[str, Any]) -> Shadow:
    """The shadow after applying `docs` in order, one second apart."""
    shadow: Shadow | None = None
    for i, doc in enumerate(docs):
        shadow = update(shadow, doc, T0 + i).shadow
    assert shadow is not None
    return shadow


def state(desired: Any = None, reported: Any = None) -> dict[str, Any]:
    sections = {"desired": desired, "reported": reported}
    return {"state": {k: v for k, v in sections.items() if v is not None}}
