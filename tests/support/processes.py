"""A service's entry point run as operators run it (`<exe> serve`), for the integration tests of
the api and the provisioner: the environment it is given and the process on free ports, up
until its /healthz answers, stopped with SIGTERM afterwards (and it must then exit 0)."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping
from typing import Any

from support.e2e import free_port, ok
from support.services import ROOT


def service_env(
    inherited: Mapping[str, str], endpoints: Any, mongo_db: Any, amqp_url: str, **extra: str
) -> dict[str, str]:
    """`inherited` plus what every service needs to run against the test's database and broker."""
    return {
        **inherited,
        "MSM_ENV": "test",
        "MSM_MONGO_URI": endpoints.mongo_uri,
        "MSM_MONGO_DB": mongo_db.name,
        "MSM_AMQP_URL": amqp_url,
        "MSM_LOG_LEVEL": "WARNING",
        **extra,
    }


def stop(proc: subprocess.Popen[Any], timeout: float) -> int:
    """SIGTERM, and SIGKILL if `proc` has not exited within `timeout` s; its exit code."""
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


@contextlib.contextmanager
def serving(
    exe: str, env: dict[str, str], port_var: str, wait_s: float
) -> Iterator[tuple[str, str]]:
    """`exe serve` on a free port (`port_var`) and a free ops port (MSM_METRICS_PORT); yields
    both base URLs once /healthz answers (or `wait_s` passed)."""
    port, ops = free_port(), free_port()
    env = {**env, port_var: str(port), "MSM_METRICS_PORT": str(ops)}
    proc = subprocess.Popen(
        [exe, "serve"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline and not ok(f"{base}/healthz", timeout=1):
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            time.sleep(0.2)
        yield base, f"http://127.0.0.1:{ops}"
    finally:
        assert stop(proc, 30) == 0
