"""`msm-metersim` as an operator runs it: meters publish, stats print, SIGTERM leaves cleanly."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from msm_metersim.identity import serials, uuid_for
from support.services import ROOT, unique

pytestmark = pytest.mark.integration


def test_the_cli_runs_a_fleet_prints_stats_and_leaves_cleanly_on_sigterm(backend, settings):
    prefix = unique("CLI").upper() + "-"
    uuids = [uuid_for(s) for s in serials(prefix, 1, 2)]
    env = {**os.environ, "MSM_SIM_DEVICES": "2", "MSM_PKI_DIR": str(settings.pki_dir)}
    argv = [
        sys.executable,
        "-m",
        "msm_metersim.main",
        "--interval",
        "1",
        "--stats-interval",
        "1",
        "--serial-prefix",
        prefix,
    ]
    proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        for uuid in uuids:  # MSM_SIM_DEVICES=2: both meters publish
            backend.on_topic(f"msm/{uuid}/telemetry", n=2, timeout=20)
        stats = _next_stats(proc)
        since = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    for uuid in uuids:
        shutil.rmtree(settings.devices_dir / uuid, ignore_errors=True)
    assert proc.returncode == 0
    assert (stats["meters"], stats["online"]) == (2, 2) and stats["telemetry"] > 0
    for uuid in uuids:
        backend.broker_log(f"Client {uuid} disconnected.", since=since)


def _next_stats(proc: subprocess.Popen[str]) -> dict:
    """The first periodic stats line (JSON) that counts telemetry (one per --stats-interval).

    Lines printed before the first reading went out (the pipe may hold several) are skipped.
    """
    assert proc.stdout is not None
    last = None
    for _ in range(40):
        line = proc.stdout.readline()
        if '"message": "stats"' in line:
            last = json.loads(line)
            if last["telemetry"] > 0:
                return last
    if last is None:
        raise AssertionError("no stats line printed")
    return last
