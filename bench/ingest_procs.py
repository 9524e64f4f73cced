"""bench_ingest's processes: msm-ingest runs with their /metrics, CPU seconds and RSS from /proc,
pids of the stack."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

from plumbing import free_port

ROOT = Path(__file__).resolve().parents[1]
TICK = os.sysconf("SC_CLK_TCK")
PY = sys.executable
INGEST = str(Path(PY).with_name("msm-ingest"))
_SAMPLE = re.compile(r"^(\w+)(?:\{([^}]*)\})? ([0-9.e+-]+)$")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), from /proc/<pid>/stat."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _pidfile(path: Path) -> int | None:
    try:
        pid = int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if Path(f"/proc/{pid}").exists() else None


def _pgrep(pattern: str) -> int | None:
    out = subprocess.run(
        ["pgrep", "-o", "-f", pattern], capture_output=True, text=True, check=False
    ).stdout.split()
    return int(out[0]) if out else None


def stack_pids() -> dict[str, int | None]:
    """mosquitto (ours, 8883), RabbitMQ (beam.smp) and the MongoDB-protocol server (27017)."""
    return {
        "broker": _pidfile(ROOT / ".local/mosquitto/mosquitto.pid"),
        "rabbitmq": _pgrep("beam.smp.*rabbit"),
        "database": _pidfile(ROOT / ".local/run/mongo.pid") or _pgrep("secantusd.*27017"),
    }


@dataclass
class CpuMeter:
    """CPU seconds used by a set of processes over a window, minus their idle rate before it.

    The broker, RabbitMQ and the database are shared with other users of the machine; their
    CPU rate measured just before the window (no bench load) is subtracted.
    """

    pids: dict[str, int | None]

    def idle_rates(self, seconds: float = 3.0) -> dict[str, float]:
        start = {n: cpu_seconds(p) for n, p in self.pids.items() if p}
        time.sleep(seconds)
        return {
            n: max(0.0, (cpu_seconds(p) - start[n]) / seconds) for n, p in self.pids.items() if p
        }

    def snapshot(self) -> dict[str, float]:
        return {n: cpu_seconds(p) for n, p in self.pids.items() if p}

    @staticmethod
    def used(
        before: dict[str, float],
        after: dict[str, float],
        seconds: float,
        idle: dict[str, float] | None = None,
    ) -> dict[str, float]:
        idle = idle or {}
        return {n: max(0.0, after[n] - before[n] - idle.get(n, 0.0) * seconds) for n in before}


def scrape(port: int) -> dict[tuple[str, str], float]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
            text = r.read().decode()
    except OSError:
        return {}
    out: dict[tuple[str, str], float] = {}
    for line in text.splitlines():
        m = _SAMPLE.match(line)
        if m:
            out[m.group(1), m.group(2) or ""] = float(m.group(3))
    return out


def consumed(samples: dict[tuple[str, str], float]) -> tuple[float, float, float]:
    """(telemetry messages handled, of which stored, readings stored)."""
    handled = sum(
        v
        for (name, labels), v in samples.items()
        if name == "msm_ingest_messages_total" and 'kind="telemetry"' in labels
    )
    stored = samples.get(("msm_ingest_messages_total", 'kind="telemetry",outcome="stored"'), 0.0)
    rows = samples.get(("msm_ingest_readings_total", 'outcome="stored"'), 0.0)
    return handled, stored, rows


class Ingest:
    """One msm-ingest process (or the no-op-store runner) with its metrics port."""

    def __init__(
        self,
        env: dict[str, str],
        *,
        null_store: bool = False,
        name: str = "",
        fixed_id: bool = False,
    ) -> None:
        self.port = free_port()
        env = dict(env, MSM_METRICS_PORT=str(self.port))
        if not fixed_id:
            env["MSM_INGEST_CLIENT_ID"] = f"bench-ingest-{uuid.uuid4().hex[:8]}{name}"
        cmd = [PY, str(ROOT / "bench/ingest_runner.py")] if null_store else [INGEST]
        self.log = (ROOT / ".local/logs").joinpath(f"bench-ingest{name}.log").open("ab")
        self.proc = subprocess.Popen(cmd, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                url = f"http://127.0.0.1:{self.port}/readyz"
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200:
                        return
            if self.proc.poll() is not None:
                raise SystemExit(f"msm-ingest exited with {self.proc.returncode}")
            time.sleep(0.3)
        raise SystemExit("msm-ingest did not become ready")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def started(env: dict[str, str], *, fixed_id: bool = False) -> Ingest:
    ingest = Ingest(env, fixed_id=fixed_id)
    ingest.wait_ready()
    return ingest
