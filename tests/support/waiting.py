"""Waiting in tests: one helper for every tier (poll a check until it returns something truthy)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(what: str, check: Callable[[], T], timeout: float = 30.0, interval: float = 0.05) -> T:
    """The first truthy result of `check`, polled every `interval` s; TimeoutError naming `what`.

    `check` runs at least once, and once more at the deadline, so a slow machine that reaches
    the deadline during a poll still sees the final state.
    """
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what} not within {timeout} s (last: {found!r})")
        time.sleep(min(interval, max(deadline - time.monotonic(), 0.0)))
