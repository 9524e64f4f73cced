"""Keyset pagination shared by the list endpoints: fetch `limit + 1`, keep `limit`, and hand out
a cursor (signed by the `CursorCodec`) at the last one kept when more follow."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from msm_api.domain.cursor import CursorCodec, CursorError

Page = tuple[list[Any], str | None]  # the documents, and the cursor of the next page (if any)


def when(value: Any) -> datetime:
    """A datetime from a cursor field (issued by us, so only a bug or a rotated key gets here)."""
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        raise CursorError("cursor is not valid") from None


def page(docs: list[Any], limit: int) -> tuple[list[Any], bool]:
    """Split the `limit + 1` fetched documents into the page and whether more follow."""
    return docs[:limit], len(docs) > limit


def by_key(
    codec: CursorCodec,
    kind: str,
    cursor: str | None,
    limit: int,
    fetch: Callable[[str | None, int], list[Any]],
    *,
    key: str = "_id",
) -> Page:
    """A page in ascending `key` order: `fetch(after, n)` gives up to n documents after `after`
    (the last `key` of the page before; None for the first page)."""
    after = None
    if cursor is not None:
        (last,) = codec.decode(kind, cursor)
        after = str(last)
    docs, more = page(fetch(after, limit + 1), limit)
    return docs, (codec.encode(kind, [docs[-1][key]]) if more and docs else None)


def newest_first(
    codec: CursorCodec,
    kind: str,
    cursor: str | None,
    limit: int,
    fetch: Callable[[tuple[datetime, str] | None, int], list[Any]],
    *,
    at: str,
) -> Page:
    """A page newest first by (`at`, `_id`): `fetch(before, n)` gives up to n documents before
    `before` (the last (time, `_id`) of the page before; None for the first page)."""
    before = None
    if cursor is not None:
        t, last_id = codec.decode(kind, cursor)
        before = when(t), str(last_id)
    docs, more = page(fetch(before, limit + 1), limit)
    if not (more and docs):
        return docs, None
    last = docs[-1]
    return docs, codec.encode(kind, [last[at].isoformat(), str(last["_id"])])
