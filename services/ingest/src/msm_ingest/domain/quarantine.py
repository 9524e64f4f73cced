"""Quarantine: what is kept of a message that failed validation (`rejected_messages`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

MAX_TOPIC_CHARS: Final = 512
MAX_DETAIL_CHARS: Final = 1024

UNKNOWN_DEVICE: Final = "unknown_device"
INTERNAL_ERROR: Final = "internal_error"


def quarantine_record(
    *,
    topic: str,
    payload: bytes,
    reason: str,
    detail: str,
    received_at: datetime,
    source: str,
    payload_cap: int,
) -> dict[str, Any]:
    """The `rejected_messages` document: topic, reason, detail, raw bytes capped at payload_cap."""
    return {
        "topic": topic[:MAX_TOPIC_CHARS],
        "reason": reason,
        "detail": detail[:MAX_DETAIL_CHARS],
        "payload": bytes(payload[:payload_cap]),
        "size": len(payload),
        "truncated": len(payload) > payload_cap,
        "received_at": received_at,
        "source": source,
    }
