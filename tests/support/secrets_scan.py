"""Where a plaintext secret shows up: every string of every document of every collection."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any


def strings(value: Any) -> Iterator[str]:
    """Every string inside a document (keys and values, at any depth; bytes as latin-1)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, bytes):
        yield value.decode("latin-1")
    elif isinstance(value, dict):
        for key, inner in value.items():
            yield str(key)
            yield from strings(inner)
    elif isinstance(value, list | tuple):
        for inner in value:
            yield from strings(inner)


def plaintext_anywhere(db: Any, secrets: Iterable[str]) -> list[str]:
    """`collection/_id` of every document holding one of `secrets` in plaintext."""
    wanted = tuple(secrets)
    return [
        f"{name}/{doc.get('_id')}"
        for name in db.list_collection_names()
        for doc in db[name].find()
        if any(s in text for text in strings(doc) for s in wanted)
    ]
