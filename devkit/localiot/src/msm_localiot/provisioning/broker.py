"""Keeping mosquitto's view of a device in step with the registry.

- grant: an ACL fragment `acl.d/localiot-<certificateId>.acl` gives the certificate's identity
  (its CN) its own thing's topics only, then the reload script rebuilds the ACL and SIGHUPs;
- revoke: the fragment goes, the certificate goes into the CRL (deploy/local/revoke-cert.sh,
  which reloads too) so it cannot connect again, and connections it still holds are dropped by
  taking their client id over with localiot's own identity (mosquitto keeps open connections
  across a reload).
"""

from __future__ import annotations

import dataclasses
import logging
import shlex
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from msm_common.adapters.mqtt import MqttConfig, MqttConnection

log = logging.getLogger(__name__)


class BrokerError(RuntimeError):
    """The broker could not be brought in step (a script failed)."""


class BrokerAccess(Protocol):
    def grant(self, certificate_id: str, username: str, thing_name: str) -> None: ...

    def revoke(self, certificate_id: str, certificate_pem: str) -> None: ...


def acl_fragment(certificate_id: str, username: str, thing_name: str) -> str:
    """The rights of one device certificate: its own thing's topics and nothing else."""
    return (
        f"# localiot: thing {thing_name}, certificate {certificate_id}\n"
        f"user {username}\n"
        f"topic readwrite msm/{thing_name}/#\n"
        f"topic readwrite $aws/things/{thing_name}/shadow/#\n"
    )


class MosquittoAccess:
    def __init__(
        self,
        acl_dir: Path,
        reload_command: str,
        revoke_command: str,
        cert_dir: Path,
        *,
        timeout_s: float = 60.0,
    ) -> None:
        self._acl_dir = acl_dir
        self._reload = shlex.split(reload_command)
        self._revoke = shlex.split(revoke_command)
        self._cert_dir = cert_dir
        self._timeout_s = timeout_s

    def grant(self, certificate_id: str, username: str, thing_name: str) -> None:
        self._acl_dir.mkdir(parents=True, exist_ok=True)
        path = self._fragment(certificate_id)
        tmp = path.with_suffix(".tmp")  # not *.acl: the reload script never sees half a file
        tmp.write_text(acl_fragment(certificate_id, username, thing_name))
        tmp.replace(path)
        self._run(self._reload)

    def revoke(self, certificate_id: str, certificate_pem: str) -> None:
        self._fragment(certificate_id).unlink(missing_ok=True)
        self._cert_dir.mkdir(parents=True, exist_ok=True)
        pem_file = self._cert_dir / f"{certificate_id}.pem"
        pem_file.write_text(certificate_pem)
        if self._revoke and Path(self._revoke[0]).exists():
            self._run([*self._revoke, str(pem_file)])  # regenerates the CRL and reloads
        else:
            log.warning("no revoke command %s: ACL removed, CRL unchanged", self._revoke[:1])
            self._run(self._reload)

    def _fragment(self, certificate_id: str) -> Path:
        return self._acl_dir / f"localiot-{certificate_id}.acl"

    def _run(self, argv: list[str]) -> None:
        try:
            done = subprocess.run(
                argv, check=False, capture_output=True, text=True, timeout=self._timeout_s
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise BrokerError(f"{argv[0]} failed: {exc}") from exc
        if done.returncode != 0:
            raise BrokerError(f"{argv[0]} exited {done.returncode}: {done.stderr.strip()[-500:]}")


class Kicker:
    """Drops a client's connection by connecting with its client id (a session take-over)."""

    def __init__(
        self,
        config_for: Callable[[str], MqttConfig],
        expect_kick: Callable[[str], None],
        *,
        timeout_s: float = 10.0,
    ) -> None:
        self._config_for = config_for
        self._expect_kick = expect_kick
        self._timeout_s = timeout_s

    def kick(self, client_id: str) -> bool:
        self._expect_kick(client_id)
        done = threading.Event()
        connection = MqttConnection(
            self._config_for(client_id), on_connect=lambda _session: done.set()
        )
        connection.client.reconnect_delay_set(min_delay=1, max_delay=1)
        connection.start()
        try:
            kicked = done.wait(self._timeout_s)
        finally:
            connection.stop()
        if not kicked:
            log.warning("could not take client id %s over: %s", client_id, connection.last_error)
        return kicked


def kick_config(base: MqttConfig) -> Callable[[str], MqttConfig]:
    """localiot's own identity, with the victim's client id and a clean, short-lived session."""

    def config_for(client_id: str) -> MqttConfig:
        return dataclasses.replace(base, client_id=client_id, clean_start=True)

    return config_for
