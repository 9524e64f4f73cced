"""Replicas and crashes: counted by what each meter actually received."""

from __future__ import annotations

import collections
import os
import random
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from commander_harness import FAST, Ack
from msm_common.settings import env_name
from support.services import ROOT
from support.waiting import wait_for

pytestmark = pytest.mark.integration
TYPES = ("reboot", "ntp", "mqtt", "sftp")


def all_final(db, ids: list[str]) -> bool:
    return (
        db["commands"].count_documents({"_id": {"$in": ids}, "status": {"$in": ["queued", "sent"]}})
        == 0
    )


def first_deliveries(meter) -> list[str]:
    return list(dict.fromkeys(meter.ids()))


def test_two_replicas_deliver_each_command_once_in_order(
    start_commander, api, meter, mongo_db
) -> None:
    # A long ack window: any second delivery would come from two replicas racing, not a resend.
    start_commander(ack_timeout_s=10)
    start_commander(ack_timeout_s=10)
    meters = [meter() for _ in range(3)]
    sent = {m.uuid: [api.request(m.uuid, "reboot") for _ in range(8)] for m in meters}
    ids = [c for cs in sent.values() for c in cs]
    wait_for("every command to finish", lambda: all_final(mongo_db, ids), 20)

    assert mongo_db["commands"].count_documents(
        {"_id": {"$in": ids}, "status": "succeeded"}
    ) == len(ids)
    for m in meters:
        assert m.ids() == sent[m.uuid]  # each exactly once, in arrival order
    assert {d["attempts"] for d in mongo_db["commands"].find({"_id": {"$in": ids}})} == {1}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class CommanderProcess:
    """`msm-commander` as operators run it, in a subprocess we can SIGKILL."""

    def __init__(self, settings, log_path: Path) -> None:
        self.env = dict(os.environ)
        for name, value in settings.model_dump().items():
            if value is not None:
                self.env[env_name(type(settings), name)] = str(value)
        self.env["MSM_LOG_LEVEL"] = "WARNING"
        self.log = log_path.open("ab")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [str(ROOT / ".venv/bin/msm-commander")],
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(15)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.log.close()


def test_sigkill_mid_flight_loses_nothing_and_never_exceeds_the_retry_policy(
    commander_settings, api, meter, mongo_db, tmp_path
) -> None:
    rng = random.Random(6)
    port = _free_port()
    settings = commander_settings(metrics_port=port, ack_timeout_s=0.8)

    def flaky(_cmd, nth: int) -> list[Ack]:
        # Some first deliveries are lost; answers take a little while.
        if nth == 1 and rng.random() < 0.25:
            return [Ack(None)]
        return [Ack("success", delay=rng.uniform(0.0, 0.25))]

    meters = [meter(flaky) for _ in range(4)]
    process = CommanderProcess(settings, tmp_path / "commander.log")
    try:
        process.start()
        sent = {
            m.uuid: [api.request(m.uuid, TYPES[(i + j) % 4]) for i in range(10)]
            for j, m in enumerate(meters)
        }
        ids = [c for cs in sent.values() for c in cs]
        for _ in range(4):  # SIGKILL at arbitrary moments, restart at once
            time.sleep(rng.uniform(0.4, 1.2))
            process.kill()
            process.start()
        wait_for("every command to finish", lambda: all_final(mongo_db, ids), 40)

        docs = {d["_id"]: d for d in mongo_db["commands"].find({"_id": {"$in": ids}})}
        received = collections.Counter(c for m in meters for c in m.ids())
        for cid, d in docs.items():
            assert d["status"] in ("succeeded", "timed_out", "superseded"), d
            assert received[cid] <= d["attempts"] <= FAST["max_attempts"], (cid, d)
            if d["status"] == "superseded":
                assert received[cid] == 0
            if d["status"] == "succeeded":
                assert received[cid] >= 1
        outcome = collections.Counter(d["status"] for d in docs.values())
        # The meters answer: timeouts stay the exception (queued configs are superseded).
        assert outcome["succeeded"] >= 0.8 * (len(ids) - outcome["superseded"]), outcome
        for m in meters:
            delivered = first_deliveries(m)
            order = [c for c in sent[m.uuid] if c in delivered]
            assert delivered == order  # one at a time, in arrival order, across restarts

        # One more after the last restart, so this process has something to count.
        meters[0].behaviour = lambda _cmd, _n: [Ack("success")]
        last = api.request(meters[0].uuid, "reboot")
        wait_for("the last command", lambda: all_final(mongo_db, [last]), 10)
        assert wait_for("/readyz", lambda: _scrape(port, "/readyz"), 10)
        assert '"alive":true' in _scrape(port, "/healthz")
        metrics = wait_for("/metrics", lambda: _scrape(port), 10)
        assert 'msm_commander_commands_total{status="succeeded",type="reboot"}' in metrics
        assert "msm_commander_in_flight 0.0" in wait_for(
            "gauge", lambda: (t := _scrape(port)) and "msm_commander_in_flight 0.0" in t and t, 5
        )
        assert "msm_commander_ack_latency_seconds_bucket" in metrics
        assert process.terminate() == 0  # SIGTERM drains and exits cleanly
    finally:
        process.close()


def _scrape(port: int, path: str = "/metrics") -> str:
    """The body of a 200 answer, else ''."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as resp:
            return resp.read().decode()
    except OSError:
        return ""
