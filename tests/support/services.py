"""Where the tests find their services, in this order:

1. the `MSM_*` URLs when they are set (`make test` sets them from `deploy/local/env.sh`);
2. testcontainers (`mongo`, `rabbitmq` images) when a Docker engine answers, as on a laptop —
   mosquitto with our mTLS PKI still comes from the local scripts;
3. otherwise the local stack scripts (`deploy/local/stack.sh up`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from msm_common.adapters.mqtt import MqttConfig

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Endpoints:
    mongo_uri: str
    amqp_url: str
    mqtt_host: str
    mqtt_port: int
    pki_dir: Path
    aws_endpoint_url: str
    origin: str

    def pki(self, name: str) -> Path:
        return self.pki_dir / name

    def mqtt_config(self, cert: Path, key: Path, client_id: str, **options: Any) -> MqttConfig:
        """The broker as a client with `cert` and `key` sees it (the local CA vouches for it)."""
        return MqttConfig(
            self.mqtt_host, self.mqtt_port, self.pki("ca.crt"), cert, key, client_id=client_id,
            **options,
        )  # fmt: skip


def _docker_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=5).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def sourced_env(script: str, prefixes: tuple[str, ...]) -> dict[str, str]:
    """The environment variables starting with one of `prefixes` (`NAME_` or `NAME=`) once bash
    has sourced `script` (a path from the repository root) on top of this process's environment."""
    out = subprocess.run(
        ["bash", "-c", 'source "$1" && env -0', "bash", script],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout
    return dict(entry.split("=", 1) for entry in out.split("\0") if entry.startswith(prefixes))


def _local_stack_env() -> dict[str, str]:
    subprocess.run(["bash", str(ROOT / "deploy/local/stack.sh"), "up"], check=True, cwd=ROOT)
    return sourced_env("deploy/local/env.sh", ("MSM_", "AWS_"))


@contextlib.contextmanager
def resolve() -> Iterator[Endpoints]:
    env = dict(os.environ)
    origin = "environment"
    stack: contextlib.ExitStack = contextlib.ExitStack()
    with stack:
        if "MSM_MONGO_URI" not in env or "MSM_AMQP_URL" not in env:
            if _docker_answers():
                from testcontainers.mongodb import MongoDbContainer
                from testcontainers.rabbitmq import RabbitMqContainer

                mongo = stack.enter_context(MongoDbContainer("mongo:7"))
                rabbit = stack.enter_context(RabbitMqContainer("rabbitmq:3.13"))
                params = rabbit.get_connection_params()
                env.setdefault("MSM_MONGO_URI", mongo.get_connection_url())
                env.setdefault(
                    "MSM_AMQP_URL", f"amqp://guest:guest@{params.host}:{params.port}/%2F"
                )
                origin = "testcontainers"
            for key, value in _local_stack_env().items():
                env.setdefault(key, value)
            origin = origin if origin == "testcontainers" else "local stack scripts"
            os.environ.update({k: v for k, v in env.items() if k.startswith(("MSM_", "AWS_"))})
        yield Endpoints(
            mongo_uri=env["MSM_MONGO_URI"],
            amqp_url=env["MSM_AMQP_URL"],
            mqtt_host=env.get("MSM_MQTT_HOST", "127.0.0.1"),
            mqtt_port=int(env.get("MSM_MQTT_PORT", "8883")),
            pki_dir=Path(env.get("MSM_PKI_DIR", str(ROOT / ".local/pki"))),
            aws_endpoint_url=env.get("MSM_AWS_ENDPOINT_URL", "http://127.0.0.1:5055"),
            origin=origin,
        )


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"
