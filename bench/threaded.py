"""The rate at which several threads can repeat one call: the benchmarks' database ceilings."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


def rate(call: Callable[[int, int], object], threads: int, seconds: float) -> float:
    """Calls per second of `call(thread, n)` (n: that thread's count so far), `threads` at once."""
    stop = time.monotonic() + seconds
    counts = [0] * threads

    def loop(i: int) -> None:
        while time.monotonic() < stop:
            call(i, counts[i])
            counts[i] += 1

    pool = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return sum(counts) / seconds
