"""What several benchmarks need around the services: free ports, a RabbitMQ vhost of their own,
percentiles."""

from __future__ import annotations

import socket
import subprocess
import urllib.parse


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], q: float) -> float:
    """The q-quantile of `values` (seconds) in milliseconds; 0 for no values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000 if ordered else 0.0


def rabbitmqctl(*args: str) -> bool:
    try:
        done = subprocess.run(
            ["rabbitmqctl", "-q", *args], check=False, capture_output=True, timeout=60
        )
        return done.returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def own_vhost(amqp_url: str, name: str) -> str | None:
    """`amqp_url` on a new vhost `name` (delete it with rabbitmqctl delete_vhost); None when
    rabbitmqctl cannot create it here."""
    parts = urllib.parse.urlsplit(amqp_url)
    if rabbitmqctl("add_vhost", name) and rabbitmqctl(
        "set_permissions", "-p", name, parts.username or "guest", ".*", ".*", ".*"
    ):
        return urllib.parse.urlunsplit(parts._replace(path="/" + urllib.parse.quote(name, "")))
    return None
