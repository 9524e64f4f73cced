"""A mosquitto of the benchmark's own: the stack's broker config (mTLS, ACLs, limits) on a free
loopback port, without persistence, in a temporary directory.

The stack's own ingest subscribes to every device's topics with a persistent session: on the
shared broker it would get a copy of every benchmark message (and, while stopped, have them
queued for it). On a broker of its own the benchmark leaves nothing behind for anyone.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from plumbing import free_port

MOSQUITTO = "/usr/sbin/mosquitto"


def own_config(stack_conf: str, port: int, workdir: Path) -> str:
    """The stack's config with our port, pid file and log, and no persistence."""
    replaced = {"listener": f"listener {port} 127.0.0.1", "pid_file": f"pid_file {workdir}/pid"}
    dropped = ("persistence", "persistence_location", "log_dest", "log_type")
    lines = []
    for line in stack_conf.splitlines():
        key = line.split(" ", 1)[0]
        if key not in dropped:
            lines.append(replaced.get(key, line))
    lines += ["persistence false", f"log_dest file {workdir / 'mosquitto.log'}", "log_type error"]
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def own_broker(stack_conf_path: Path) -> Iterator[tuple[int, int]]:
    """(port, pid) of a private mosquitto for the duration of the block."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="msm-bench-mqtt-") as tmp:
        workdir = Path(tmp)
        conf = workdir / "mosquitto.conf"
        conf.write_text(own_config(stack_conf_path.read_text(), port, workdir))
        proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                with socket.socket() as s:
                    if s.connect_ex(("127.0.0.1", port)) == 0:
                        break
                if proc.poll() is not None:
                    raise SystemExit(f"bench mosquitto exited: {proc.returncode}")
                time.sleep(0.1)
            yield port, proc.pid
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
