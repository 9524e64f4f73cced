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


def by_id(codec: CursorCodec, kind: str, cursor: str | None) -> dict[str, Any]:
    if cursor is None:
        return {}
    (last,) = codec.decode(kind, cursor)
    return {"_id": {"$gt": str(last)}}


def next_by_id(codec: CursorCodec, kind: str, docs: list[Any], more: bool) -> str | None:
    return codec.encode(kind, [docs[-1]["_id"]]) if more and docs else None


def newest_first(codec: CursorCodec, kind: str, cursor: str | None, field: str) -> dict[str, Any]:
    """Filter for the page after `cursor`, ordered by (`field` desc, `_id` desc)."""
    if cursor is None:
        return {}
    at, last_id = codec.decode(kind, cursor)
    t = when(at)
    return {"$or": [{field: {"$lt": t}}, {field: t, "_id": {"$lt": last_id}}]}


def next_newest_first(
    codec: CursorCodec, kind: str, docs: list[Any], more: bool, field: str
) -> str | None:
    if not (more and docs):
        return None
    last = docs[-1]
    return codec.encode(kind, [last[field].isoformat(), last["_id"]])
