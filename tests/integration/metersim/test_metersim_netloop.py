"""The selector loop's timers and cross-thread calls (local socketpair only)."""

from __future__ import annotations

import threading
import time

import pytest
from msm_metersim.netloop import IoLoop

pytestmark = pytest.mark.integration


@pytest.fixture
def loop():
    running = IoLoop("test-loop").start()
    yield running
    running.stop()


def test_timers_fire_in_time_order_and_cancelled_ones_never(loop):
    fired: list[str] = []
    done = threading.Event()

    def schedule():
        loop.call_later(0.10, lambda: fired.append("late"))
        loop.call_later(0.02, lambda: fired.append("early"))
        loop.call_later(0.05, lambda: fired.append("cancelled")).cancel()
        loop.call_later(0.15, done.set)

    loop.call_soon(schedule)

    assert done.wait(5)
    assert fired == ["early", "late"]


def test_run_sync_returns_the_result_and_raises_the_error_from_the_loop_thread(loop):
    assert loop.run_sync(threading.current_thread).name == "test-loop"
    with pytest.raises(ZeroDivisionError):
        loop.run_sync(lambda: 1 / 0)


def test_a_failing_callback_does_not_stop_the_loop(loop):
    loop.call_soon(lambda: 1 / 0)
    time.sleep(0.05)
    assert loop.run_sync(lambda: "still running") == "still running"
