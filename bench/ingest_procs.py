"""Process accounting for bench_ingest: CPU seconds and RSS from /proc, pids of the stack."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TICK = os.sysconf("SC_CLK_TCK")


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
