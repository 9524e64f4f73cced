"""The one retry policy: how long it waits, when it gives up, and that a stop ends it at once."""

from __future__ import annotations

import threading

import pytest
from msm_common.retry import Backoff, retry_call

NO_WAIT = Backoff(initial_s=0.0, max_s=0.0)


class Flaky:
    """Fails `failures` times with `error`, then returns the number of calls."""

    def __init__(self, failures: int, error: BaseException) -> None:
        self.failures = failures
        self.error = error
        self.calls = 0

    def __call__(self) -> int:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return self.calls


def test_delays_double_up_to_the_cap_with_bounded_jitter() -> None:
    policy = Backoff(initial_s=0.5, max_s=4.0, jitter=0.1)
    for attempt, base in ((1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (9, 4.0)):
        assert base <= policy.delay(attempt) <= base * 1.1


def test_an_invalid_policy_is_refused() -> None:
    with pytest.raises(ValueError):
        Backoff(initial_s=5.0, max_s=1.0)


def test_a_call_that_recovers_returns_its_value() -> None:
    flaky = Flaky(2, ConnectionError("down"))
    assert retry_call(flaky, on=ConnectionError, backoff=NO_WAIT) == 3


def test_the_last_error_is_raised_after_the_attempts() -> None:
    flaky = Flaky(5, ConnectionError("down"))
    with pytest.raises(ConnectionError, match="down"):
        retry_call(flaky, on=ConnectionError, attempts=3, backoff=NO_WAIT)
    assert flaky.calls == 3


def test_other_errors_are_not_retried() -> None:
    flaky = Flaky(1, KeyError("bug"))
    with pytest.raises(KeyError):
        retry_call(flaky, on=ConnectionError, backoff=NO_WAIT)
    assert flaky.calls == 1


def test_a_set_stop_event_ends_the_retries() -> None:
    stop = threading.Event()
    stop.set()
    flaky = Flaky(5, ConnectionError("down"))
    # A long backoff: were the wait not interrupted by the event, this test would hang.
    with pytest.raises(ConnectionError):
        retry_call(flaky, on=ConnectionError, backoff=Backoff(initial_s=60, max_s=60), stop=stop)
    assert flaky.calls == 1
