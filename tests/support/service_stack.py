"""msm-api, msm-ingest and msm-commander (and msm-localiot unless one already answers) run as
processes, as operators run them, on a database of their own with registered meters; shared by
the commander's and the console's end-to-end stacks. Everything stopped and dropped afterwards."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from msm_common.adapters import mongo
from msm_metersim import registered_device

from support.e2e import answers, ready, wait_for
from support.processes import service_env, stop
from support.services import ROOT, unique

BIN = ROOT / ".venv/bin"


class Process:
    def __init__(self, name: str, env: dict[str, str], logs: Path) -> None:
        self.name, self.env, self.log = name, env, logs / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, *args: str) -> Process:
        """The entry point with `args` (e.g. the provisioner's `serve`), logging to its file."""
        out = self.log.open("ab")
        self.proc = subprocess.Popen(
            [str(BIN / self.name), *args],
            env=self.env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        return self

    def alive(self) -> bool:
        if self.proc is None or self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited: {self.log.read_text()[-3000:]}")
        return True

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            stop(self.proc, 30)


@dataclass
class Services:
    db: Any
    env: dict[str, str]  # what every service's environment starts from
    api: Process
    commander: Process
    running: list[Process]  # stopped in reverse order at the end; append any you start


@contextlib.contextmanager
def running_services(
    endpoints: Any,
    amqp_url: str,
    logs: Path,
    *,
    db_prefix: str,
    tag: str,
    devices: list[str],
    ports: dict[str, int],
    identity: Callable[[str], dict[str, str]],
    api_env: dict[str, str],
    commander_env: dict[str, str],
) -> Iterator[Services]:
    """The services up (api answering, ingest and commander ready) on `ports` (api, ingest,
    commander, localiot); `tag` names the ingest client and the commander's queues; `identity`
    gives a service's own MQTT identity; `devices` are registered first."""
    client = mongo.connect(endpoints.mongo_uri)
    db_name = unique(db_prefix).replace("-", "_")
    db = client[db_name]
    env = service_env(
        os.environ, endpoints, db, amqp_url, MSM_LOG_LEVEL="INFO", MSM_METRICS_PORT="0"
    )
    api_env = {
        "MSM_API_PORT": str(ports["api"]),
        "MSM_SECRETS_DIR": str(logs / "secrets"),
        **api_env,
    }
    api = Process("msm-api", {**env, **api_env}, logs)
    ingest = Process(
        "msm-ingest",
        {
            **env,
            **identity("ingest"),
            "MSM_METRICS_PORT": str(ports["ingest"]),
            "MSM_INGEST_CLIENT_ID": tag,
            "MSM_INGEST_SUBSCRIBE_DEVICES": ",".join(devices),
            "MSM_INGEST_SHADOW_ENABLED": "false",
            "MSM_INGEST_BATCH_MAX_WAIT_MS": "5",
        },
        logs,
    )
    commander = Process(
        "msm-commander",
        {
            **env,
            **identity("commander"),
            **commander_env,
            "MSM_METRICS_PORT": str(ports["commander"]),
            "MSM_COMMANDER_REQUESTS_QUEUE": f"{tag}.requests",
            "MSM_COMMANDER_ACKS_QUEUE": f"{tag}.acks",
            "MSM_COMMANDER_PRESENCE_QUEUE": f"{tag}.presence",
        },
        logs,
    )
    running = [api, ingest, commander]
    if not answers(5056):  # no localiot: presence events come from one of our own
        localiot = {"MSM_LOCALIOT_HTTP_LISTEN": f"127.0.0.1:{ports['localiot']}"}
        running.append(Process("msm-localiot", {**env, **identity("localiot"), **localiot}, logs))
    try:
        mongo.ensure_indexes(db)
        db["devices"].insert_many([registered_device(d) for d in devices])
        for proc in running:
            proc.start()
        wait_for("api", lambda: api.alive() and answers(ports["api"]), 60)
        wait_for("ingest", lambda: ingest.alive() and ready(ports["ingest"]), 60)
        wait_for("commander", lambda: commander.alive() and ready(ports["commander"]), 60)
        yield Services(db, env, api, commander, running)
    finally:
        for proc in reversed(running):
            proc.stop()
        client.drop_database(db_name)
        client.close()
