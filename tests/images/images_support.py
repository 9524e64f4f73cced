"""podman as the image smoke tests use it: MSM's settings (deploy/images/env.sh), host network,
read-only root filesystem, no capabilities, the local PKI mounted read-only."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from support.services import ROOT, sourced_env, unique

SERVICES = (
    "msm-ingest",
    "msm-api",
    "msm-commander",
    "msm-provisioner",
    "msm-localiot",
    "msm-metersim",
)
CONSOLE = "msm-console" if (ROOT / "web/package.json").exists() else None
MOUNT_POINT = "/run/msm"
PKI_IN_CONTAINER = f"{MOUNT_POINT}/pki"
FILES_IN_CONTAINER = f"{MOUNT_POINT}/files"
SERVICE_UID = 10001
# Host ports for the containers under test: a range no other test or local-stack service uses.
PORT_RANGE = range(18000, 18100)


def podman_environment() -> dict[str, str]:
    """os.environ plus CONTAINERS_CONF / CONTAINERS_STORAGE_CONF from deploy/images/env.sh."""
    prefixes = ("CONTAINERS_", "MSM_CONTAINERS_DIR=")
    return {**os.environ, **sourced_env("deploy/images/env.sh", prefixes)}


def cannot_run_containers() -> str | None:
    """Why this machine cannot run containers at all, or None when podman works."""
    if shutil.which("podman") is None:
        return "podman is not installed (`make images` / `make test` install it with apt-get)"
    try:
        info = subprocess.run(
            ["podman", "info"], env=podman_environment(), capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"`podman info` did not answer: {exc}"
    if info.returncode != 0:
        return f"`podman info` fails on this machine: {info.stderr.strip()[-400:]}"
    return None


def free_ports(count: int) -> list[int]:
    """`count` ports of PORT_RANGE that nothing listens on (on 127.0.0.1)."""
    found: list[int] = []
    for port in PORT_RANGE:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) != 0:
                found.append(port)
        if len(found) == count:
            return found
    raise RuntimeError(f"fewer than {count} free ports in {PORT_RANGE}")


def stage_host_files(host_env: dict[str, str], pki_dir: Path, into: Path) -> Path:
    """What the containers may read of the host, readable by their user, under `into`:
    `pki/` (the local PKI minus the devices' certificates) and `files/` (any other file a
    setting names under .local, e.g. the secrets' envelope key). Mounted read-only at /run/msm.

    The keys are 0600 root's on the host; the copies live only as long as the test session.
    """
    shutil.copytree(pki_dir, into / "pki", ignore=shutil.ignore_patterns("devices"))
    (into / "files").mkdir()
    for path in _state_files(host_env, pki_dir).values():
        shutil.copy(path, into / "files" / path.name)
    for path in [into, *into.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return into


def _state_files(host_env: dict[str, str], pki_dir: Path) -> dict[str, Path]:
    """Settings naming a file under .local outside the PKI: {variable: path}."""
    local = ROOT / ".local"
    found = {}
    for key, value in host_env.items():
        path = Path(value)
        if (
            key.startswith("MSM_")
            and path.is_absolute()
            and path.is_file()
            and path.is_relative_to(local)
            and not path.is_relative_to(pki_dir)
        ):
            found[key] = path
    return found


def container_env(
    host_env: dict[str, str], pki_dir: Path, identity: str = "", **overrides: str
) -> dict[str, str]:
    """The services' `MSM_*` / `AWS_*` settings as a container sees them.

    Paths under the PKI directory move to where it is mounted, other files under .local to
    /run/msm/files; other host paths (the repository's scripts, .local directories) do not
    exist in a container and are left out. `identity`: the MQTT certificate
    `<pki>/<identity>.crt` the service connects with, as deploy/runner.py gives each process.
    """
    pki = str(pki_dir)
    env: dict[str, str] = {}
    for key, value in host_env.items():
        if not key.startswith(("MSM_", "AWS_")):
            continue
        if value == pki or value.startswith(pki + "/"):
            env[key] = PKI_IN_CONTAINER + value[len(pki) :]
        elif not value.startswith(("/", ".local")):
            env[key] = value
    for key, path in _state_files(host_env, pki_dir).items():
        env[key] = f"{FILES_IN_CONTAINER}/{path.name}"
    env["MSM_PKI_DIR"] = PKI_IN_CONTAINER
    if identity and (pki_dir / f"{identity}.crt").exists():
        env["MSM_MQTT_CERT_FILE"] = f"{PKI_IN_CONTAINER}/{identity}.crt"
        env["MSM_MQTT_KEY_FILE"] = f"{PKI_IN_CONTAINER}/{identity}.key"
    env["MSM_BIND_HOST"] = "127.0.0.1"  # the tests' rule, though the image's default is 0.0.0.0
    env.update(overrides)
    return env


@dataclass
class Container:
    podman: Podman
    name: str
    image: str

    def running(self) -> bool:
        return self.podman.inspect(self.name, "{{.State.Running}}") == "true"

    def exit_code(self) -> int:
        return int(self.podman.inspect(self.name, "{{.State.ExitCode}}"))

    def process_uid(self) -> int:
        """The real uid of the container's PID 1 as the host's kernel sees it."""
        pid = self.podman.inspect(self.name, "{{.State.Pid}}")
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Uid:"):
                return int(line.split()[1])
        raise AssertionError(f"no Uid line for pid {pid}")

    def logs(self) -> str:
        return self.podman.run_cli("logs", "--tail", "40", self.name, check=False)

    def healthcheck(self) -> subprocess.CompletedProcess[str]:
        """The image's own HEALTHCHECK, run once."""
        return self.podman.cli("healthcheck", "run", self.name)

    def stop(self, timeout_s: int = 30) -> int:
        """SIGTERM (then SIGKILL after `timeout_s`); the exit code."""
        self.podman.run_cli("stop", "--time", str(timeout_s), self.name, check=False)
        return self.exit_code()

    def remove(self) -> None:
        self.podman.run_cli("rm", "--force", "--volumes", self.name, check=False)


@dataclass
class Podman:
    env: dict[str, str] = field(default_factory=podman_environment)

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["podman", *args], env=self.env, capture_output=True, text=True, timeout=timeout
        )

    def run_cli(self, *args: str, check: bool = True) -> str:
        done = self.cli(*args)
        if check and done.returncode != 0:
            raise AssertionError(f"podman {' '.join(args)}: {done.stderr.strip()}")
        return (done.stdout + done.stderr).strip()

    def inspect(self, name: str, template: str) -> str:
        return self.cli("inspect", "--format", template, name).stdout.strip()

    def build_tools_in(self, image: str, tools: tuple[str, ...]) -> list[str]:
        """Which of `tools` the image's filesystem holds on its PATH or in its venv."""
        bins = ("opt/msm/bin", "usr/local/bin", "usr/bin", "bin", "usr/sbin", "sbin")
        root = Path(self.run_cli("image", "mount", image).splitlines()[-1])
        try:
            return [t for t in tools if any((root / b / t).exists() for b in bins)]
        finally:
            self.run_cli("image", "unmount", image, check=False)

    def start(
        self, image: str, env: dict[str, str], host_files: Path, command: tuple[str, ...] = ()
    ) -> Container:
        """A detached container run as production would: read-only, unprivileged, non-root."""
        name = unique("msmtest-" + image.rsplit("/", 1)[-1].split(":", maxsplit=1)[0])
        args = [
            "run",
            "--detach",
            f"--name={name}",
            "--network=host",
            "--read-only",
            "--cap-drop=ALL",
            "--security-opt=no-new-privileges",
            f"--user={SERVICE_UID}:{SERVICE_UID}",
            # The writable directories the images declare, as tmpfs (k8s: emptyDir).
            "--tmpfs=/tmp:rw,mode=1777",
            "--tmpfs=/var/lib/msm:rw,mode=0700,U",  # U: owned by the container user
            # No systemd here to time health checks: the tests run the image's check themselves.
            "--health-interval=disable",
            f"--volume={host_files}:{MOUNT_POINT}:ro",
        ]
        args += [f"--env={key}={value}" for key, value in sorted(env.items())]
        self.run_cli(*args, image, *command)
        return Container(self, name, image)
