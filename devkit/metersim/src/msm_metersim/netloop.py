"""A selector loop that drives many paho MQTT clients from one thread (no thread per connection).

paho's external-loop API (`loop_read` / `loop_write` / `loop_misc` and the socket callbacks) lets
one thread serve hundreds of connections; `Link` is one MQTT 5 connection on such a loop. Every
paho call and every callback happens on the loop's thread; other threads use `call_soon`.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import selectors
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from functools import partial
from typing import Any, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")
MISC_INTERVAL_S = 1.0


class Timer:
    __slots__ = ("callback", "cancelled")

    def __init__(self, callback: Callable[[], None]) -> None:
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class Pollable:
    """What the loop needs from a connection: its socket events and periodic upkeep."""

    def on_readable(self) -> None: ...
    def on_writable(self) -> None: ...
    def flush(self) -> bool:
        """Write what is queued; True if more is left (wait for the socket to be writable)."""
        return False

    def misc(self) -> None: ...


class IoLoop:
    def __init__(self, name: str) -> None:
        self.name = name
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._calls: deque[Callable[[], object]] = deque()
        self._timers: list[tuple[float, int, Timer]] = []
        self._seq = itertools.count()
        self._pollables: set[Pollable] = set()
        self._dirty: set[Pollable] = set()
        self._masks: dict[Pollable, tuple[socket.socket, int]] = {}
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    # -- any thread ------------------------------------------------------------------------------
    def start(self) -> IoLoop:
        self._thread.start()
        return self

    def call_soon(self, fn: Callable[[], object]) -> None:
        self._calls.append(fn)
        with contextlib.suppress(BlockingIOError):  # full of wake-ups: it is awake anyway
            self._wake_w.send(b"\0")

    def run_sync(self, fn: Callable[[], T], timeout: float = 10.0) -> T:
        """Run `fn` on the loop and return its result (call from another thread)."""
        if threading.current_thread() is self._thread:
            return fn()
        future: Future[T] = Future()

        def call() -> None:
            try:
                future.set_result(fn())
            except BaseException as exc:  # noqa: BLE001 - handed to the caller, which re-raises it
                future.set_exception(exc)

        self.call_soon(call)
        return future.result(timeout)

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        self.call_soon(lambda: None)
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()

    # -- loop thread -----------------------------------------------------------------------------
    def call_later(self, delay_s: float, fn: Callable[[], None]) -> Timer:
        timer = Timer(fn)
        heapq.heappush(self._timers, (time.monotonic() + max(0.0, delay_s), next(self._seq), timer))
        return timer

    def add(self, pollable: Pollable) -> None:
        self._pollables.add(pollable)

    def remove(self, pollable: Pollable) -> None:
        self._pollables.discard(pollable)  # queued bytes (a DISCONNECT) are still written

    def watch(self, pollable: Pollable, sock: socket.socket) -> None:
        self._selector.register(sock, selectors.EVENT_READ, pollable)
        self._masks[pollable] = (sock, selectors.EVENT_READ)

    def unwatch(self, pollable: Pollable) -> None:
        entry = self._masks.pop(pollable, None)
        self._dirty.discard(pollable)
        if entry is not None:
            # KeyError/ValueError: the socket was already closed and forgotten by the selector.
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(entry[0])

    def mark_dirty(self, pollable: Pollable) -> None:
        """`pollable` has queued bytes: write them before the next wait."""
        self._dirty.add(pollable)

    def _run(self) -> None:
        next_misc = time.monotonic() + MISC_INTERVAL_S
        while not self._stopping.is_set():
            self._flush()
            now = time.monotonic()
            wake_at = min(next_misc, self._timers[0][0]) if self._timers else next_misc
            timeout = 0.0 if self._calls or self._dirty else max(0.0, wake_at - now)
            for key, mask in self._selector.select(timeout):
                pollable = key.data
                if pollable is None:
                    self._drain_wakeups()
                    continue
                self._guard(pollable.on_readable if mask & selectors.EVENT_READ else None)
                self._guard(pollable.on_writable if mask & selectors.EVENT_WRITE else None)
                if mask & selectors.EVENT_WRITE:
                    self._dirty.add(pollable)
            for _ in range(len(self._calls)):
                self._guard(self._calls.popleft())
            self._run_timers()
            now = time.monotonic()
            if now >= next_misc:
                for pollable in list(self._pollables):
                    self._guard(pollable.misc)
                next_misc = now + MISC_INTERVAL_S

    def _run_timers(self) -> None:
        now = time.monotonic()
        timers = self._timers
        while timers and timers[0][0] <= now:
            timer = heapq.heappop(timers)[2]
            if not timer.cancelled:
                self._guard(timer.callback)

    def _flush(self) -> None:
        # Once per pass: a connection whose socket is full re-marks itself while writing, and
        # waits for EVENT_WRITE instead of being retried in a spin.
        dirty, self._dirty = self._dirty, set()
        for pollable in dirty:
            self._guard(partial(self._write, pollable))
        self._dirty -= dirty

    def _write(self, pollable: Pollable) -> None:
        more = pollable.flush()
        entry = self._masks.get(pollable)
        if entry is None:
            return
        sock, mask = entry
        wanted = selectors.EVENT_READ | (selectors.EVENT_WRITE if more else 0)
        if wanted != mask:
            self._selector.modify(sock, wanted, pollable)
            self._masks[pollable] = (sock, wanted)

    def _drain_wakeups(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except BlockingIOError:
            pass

    def _guard(self, fn: Callable[[], Any] | None) -> None:
        if fn is None:
            return
        try:
            fn()
        # The loop serves every meter on it: one failing callback must not stop the others.
        except Exception:
            log.exception("metersim loop %s: callback failed", self.name)
