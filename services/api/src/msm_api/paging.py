"""Keyset pagination helpers shared by the list endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from msm_api.domain.cursor import CursorCodec, CursorError


def when(value: Any) -> datetime:
    """A datetime from a cursor field (issued by us, so only a bug or a rotated key gets here)."""
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        raise CursorError("cursor is not valid") from None


def page(docs: list[Any], limit: int) -> tuple[list[Any], bool]:
    """Split the `limit + 1` fetched documents into the page and whether more follow."""
    return docs[:limit], len(docs) > limit


def after_id(codec: CursorCodec, kind: str, cursor: str | None) -> str | None:
    """The last `_id` of the page before, for pages in `_id` order."""
    if cursor is None:
        return None
    (last,) = codec.decode(kind, cursor)
    return str(last)


def next_by_id(codec: CursorCodec, kind: str, docs: list[Any], more: bool) -> str | None:
    return codec.encode(kind, [docs[-1]["_id"]]) if more and docs else None


def before_key(codec: CursorCodec, kind: str, cursor: str | None) -> tuple[datetime, str] | None:
    """The last (time, `_id`) of the page before, for pages newest first."""
    if cursor is None:
        return None
    at, last_id = codec.decode(kind, cursor)
    return when(at), str(last_id)


def next_newest_first(
    codec: CursorCodec, kind: str, docs: list[Any], more: bool, field: str
) -> str | None:
    if not (more and docs):
        return None
    last = docs[-1]
    return codec.encode(kind, [last[field].isoformat(), last["_id"]])
