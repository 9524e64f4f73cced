"""One retry policy for every loop that retries: capped exponential backoff with jitter.

`Backoff` is the policy (one formula for every service); `retry_call` runs a call under it with
tenacity. tenacity rather than stamina (which is built on it): our retry loops run on worker
threads that must stop promptly on SIGTERM, and tenacity takes the sleep function and a stop
condition (`stop_when_event_set`) as parameters, so a wait ends the moment the service stops.
Callback-driven loops (an event loop's `call_later`) take their delays from `Backoff.delay`.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import tenacity

T = TypeVar("T")
Retryable = type[BaseException] | tuple[type[BaseException], ...]
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Backoff:
    """Delay before the next try: `initial_s`, doubling up to `max_s`, plus up to `jitter` of it."""

    initial_s: float = 0.5
    max_s: float = 10.0
    factor: float = 2.0
    jitter: float = 0.1  # a random fraction added, so replicas do not retry in step

    def __post_init__(self) -> None:
        if self.initial_s < 0 or self.max_s < self.initial_s or self.factor < 1 or self.jitter < 0:
            raise ValueError(f"invalid backoff {self}")

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed try number `attempt` (1-based)."""
        base = min(self.initial_s * self.factor ** max(attempt - 1, 0), self.max_s)
        return base + random.uniform(0.0, base * self.jitter)  # noqa: S311 (not for security)


DEFAULT_BACKOFF = Backoff()


def retry_call(
    fn: Callable[[], T],
    *,
    on: Retryable,
    attempts: int | None = None,
    backoff: Backoff = DEFAULT_BACKOFF,
    stop: threading.Event | None = None,
    what: str = "call",
    logger: logging.Logger = log,
) -> T:
    """Call `fn` until it returns, retrying on `on` with `backoff`.

    The last exception is raised again after `attempts` tries (None: no limit) or once `stop`
    is set; a wait ends early when `stop` is set.
    """
    stops: list[tenacity.stop.stop_base] = []
    if attempts is not None:
        stops.append(tenacity.stop_after_attempt(attempts))
    if stop is not None:
        stops.append(tenacity.stop_when_event_set(stop))
    condition = tenacity.stop_any(*stops) if stops else tenacity.stop_never

    def wait(state: tenacity.RetryCallState) -> float:
        return backoff.delay(state.attempt_number)

    def before_sleep(state: tenacity.RetryCallState) -> None:
        outcome = state.outcome
        exc = outcome.exception() if outcome is not None else None
        delay = state.next_action.sleep if state.next_action is not None else 0.0
        logger.warning("%s failed (%s); retrying in %.1fs", what, exc, delay)

    def sleep(seconds: float) -> None:
        if stop is None:
            tenacity.nap.sleep(seconds)
        else:
            stop.wait(seconds)

    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(on),
        stop=condition,
        wait=wait,
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
    return retrying(fn)
